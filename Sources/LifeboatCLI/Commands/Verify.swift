import ArgumentParser
import LifeboatCore

extension Lifeboat {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every artifact of a backup against its SHA-256.",
            discussion: "Exits 0 when the backup is intact and 65 when any artifact is corrupt.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "latest (default), a backup id, or a label.")
        var backup: String?

        func run() async throws {
            try await global.perform {
                let sink = try global.primarySink(try global.loadConfig())
                let manifest = try await Catalog(sink: sink).resolve(BackupSelector(backup))
                let store = ArtifactStore(sink: sink, manifest: manifest, registry: Lifeboat.registry)
                let bytes = try await store.verifyAll(logger: global.logger)
                print("backup \(manifest.id) is intact: \(manifest.artifacts.count) artifacts, "
                    + "\(ByteCount.format(bytes)) verified")
            }
        }
    }
}
