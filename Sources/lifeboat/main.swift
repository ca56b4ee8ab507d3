import CLifeboatSignals
import LifeboatCLI

await Lifeboat.run(registry: .builtIn, waitForSignal: lifeboat_wait_for_termination_signal)
