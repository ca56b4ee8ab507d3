import ArgumentParser
import Foundation
import LifeboatCore

extension Lifeboat {
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that a backup can run: the config, the source and its privileges, pg_dump, every target.",
            discussion: """
                Prints one line per check, "ok" or "FAIL", and exits with the code of the first failure. Each target \
                is written to, read back and cleaned with a probe that is never listed as a backup. Run it in CI, \
                after changing the configuration, and before a migration.
                """)

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.perform {
                let config = try global.loadConfig()
                print("ok    config: \(global.config ?? (FileManager.default.fileExists(atPath: ConfigLoader.defaultPath) ? ConfigLoader.defaultPath : "defaults")), "
                    + "\(config.targets.count) target\(config.targets.count == 1 ? "" : "s")"
                    + (config.environment.map { ", environment \($0)" } ?? ""))
                var failures: [LifeboatError] = []
                func attempt(_ name: String, _ body: () async throws -> [String]) async {
                    do {
                        for line in try await body() { print("ok    " + line) }
                    } catch {
                        let failure = (error as? LifeboatError) ?? LifeboatError(.internalError, "\(name): \(error)")
                        print("FAIL  " + failure.message)
                        failures.append(failure)
                    }
                }
                await attempt("source") { try await Lifeboat.registry.makeSource(config.source).preflight() }
                for target in config.targets {
                    await attempt("target '\(target.name)'") {
                        [try await TargetProbe.run(try Lifeboat.registry.makeSink(target))]
                    }
                }
                guard let first = failures.first else { return }
                throw LifeboatError(
                    first.code,
                    failures.count == 1 ? "1 check failed: \(first.message)" : "\(failures.count) checks failed; first: \(first.message)")
            }
        }
    }
}
