import CLifeboatSignals
import EncryptedSink
import LifeboatCLI
import LifeboatCore

// Lifeboat's own command line, with `encrypted://` targets added to the built-in plugins.
let registry = PluginRegistry.builtIn.registering(sink: "encrypted") { target in
    try EncryptedSink(target: target, registry: .builtIn)
}
await Lifeboat.run(registry: registry, waitForSignal: lifeboat_wait_for_termination_signal)
