import ArgumentParser
import LifeboatCore

extension Lifeboat {
    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a backup from one target to another, e.g. to seed a new off-site bucket.",
            discussion: """
                Copies the stored bytes as they are, checking each artifact's SHA-256 on the way; the manifest \
                is written last. A failed copy leaves nothing on the destination.
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "latest (default), a backup id, or a label.")
        var backup: String?

        @Option(help: "The target to read.")
        var from: String

        @Option(help: "The target to write.")
        var to: String

        func validate() throws {
            if from == to { throw ValidationError("--from and --to name the same target") }
        }

        func run() async throws {
            try await global.perform(audit: "copy") { config, trail in
                let destination = try config.target(named: to)
                let source = try Lifeboat.registry.makeSink(try config.target(named: from))
                let sink = try Lifeboat.registry.makeSink(destination)
                let locks = (try global.lock([source], .read, for: "copy"), try global.lock([sink], .write, for: "copy"))
                defer { locks.0.release(); locks.1.release() }
                trail.sinks = [source, sink]
                let manifest = try await CopyEngine(
                    from: source, to: sink, toRequired: destination.required,
                    logger: global.logger
                ).run(BackupSelector(backup), registry: Lifeboat.registry)
                trail.record(manifest)
                print("copied backup \(manifest.id) from target '\(from)' to target '\(to)': "
                    + "\(manifest.artifacts.count) artifacts, \(ByteCount.format(manifest.storedBytes)) verified")
            }
        }
    }
}
