#include "lifeboat_signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int signal_pipe[2] = {-1, -1};

static void record_signal(int number) {
    int saved = errno;
    unsigned char byte = (unsigned char)number;
    (void)write(signal_pipe[1], &byte, 1);  // async-signal-safe; a full pipe already holds a pending signal
    errno = saved;
}

// Runs before main and before any thread exists.
__attribute__((constructor)) static void install_termination_handler(void) {
    // Started with stdin, stdout or stderr closed (cron, daemons), pipe() would take fd 0-2, and output would land
    // in the pipe: give closed standard descriptors /dev/null first.
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
            int opened = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (opened >= 0 && opened != fd) {
                dup2(opened, fd);
                close(opened);
            }
        }
    }
    if (pipe(signal_pipe) != 0) return;
    for (int i = 0; i < 2; i++) fcntl(signal_pipe[i], F_SETFD, FD_CLOEXEC);
    fcntl(signal_pipe[1], F_SETFL, O_NONBLOCK);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = record_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}

int lifeboat_wait_for_termination_signal(void) {
    if (signal_pipe[0] < 0) return -1;
    unsigned char byte;
    ssize_t count;
    do {
        count = read(signal_pipe[0], &byte, 1);
    } while (count < 0 && errno == EINTR);
    return count == 1 ? byte : -1;
}
