import LifeboatCLI

await Lifeboat.run(registry: .builtIn)
