#ifndef LIFEBOAT_SIGNALS_H
#define LIFEBOAT_SIGNALS_H

/// Blocks until SIGINT or SIGTERM arrives and returns its number; -1 if they cannot be caught.
///
/// A constructor installs a handler for both signals before `main` runs, so no signal is lost or kills the process
/// however early it comes: whichever thread receives it, the handler only writes its number to a private pipe,
/// which this function reads.
int lifeboat_wait_for_termination_signal(void);

#endif
