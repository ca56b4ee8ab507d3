import LifeboatCore
import Testing

@Suite struct ConfigLoaderTests {
    let loader = ConfigLoader(environment: ["DATABASE_URL": "postgresql://env@h/db", "BACKUP_DIR": "/srv/backups"])

    @Test func defaultsWithoutAFile() throws {
        let config = try ConfigLoader(environment: ["DATABASE_URL": "postgresql://a@b/c"]).load(path: nil)
        #expect(config.source.url == "postgresql://a@b/c")
        #expect(config.source.jobs == 2)
        #expect(config.targets == [TargetConfig(name: "primary", url: "./backups")])
    }

    @Test func readsEveryKeyAndExpandsVariables() throws {
        let config = try loader.parse("""
            source:
              url: postgresql://app@db.internal:5432/app
              jobs: 4
              pg_bin_dir: /usr/lib/postgresql/15/bin
            targets:
              - name: primary
                url: ${BACKUP_DIR}/app
            """)
        #expect(config.source == SourceConfig(
            url: "postgresql://app@db.internal:5432/app", jobs: 4, pgBinDir: "/usr/lib/postgresql/15/bin"))
        #expect(config.targets == [TargetConfig(name: "primary", url: "/srv/backups/app")])
    }

    @Test func sourceURLFallsBackToDatabaseURL() throws {
        let config = try loader.parse("targets:\n  - url: /b\n")
        #expect(config.source.url == "postgresql://env@h/db")
        #expect(config.targets[0].name == "primary")
    }

    @Test(arguments: [
        ("sourse:\n  url: x\n", "unknown key 'sourse'"),
        ("source:\n  jbos: 2\n", "unknown key 'source.jbos'"),
        ("source:\n  jobs: 0\n", "source.jobs must be a whole number from 1 to 64"),
        ("source:\n  jobs: many\n", "source.jobs must be a whole number"),
        ("targets: []\n", "targets must be a non-empty list"),
        ("targets:\n  - name: a\n  - name: a\n", "is used by another target"),
        ("targets:\n  - name: ../x\n", "must be 1-64 letters"),
        ("source:\n  url: ${NOPE}\n", "${NOPE}, which is not set"),
        ("source:\n  url: ${OPEN\n", "without a closing"),
        ("- a\n- b\n", "the top level must be a mapping"),
    ])
    func rejectsWithAMessageNamingTheProblem(yaml: String, message: String) {
        #expect {
            try loader.parse(yaml)
        } throws: { error in
            let error = error as? LifeboatError
            return error?.code == .configInvalid && error?.message.contains(message) == true
        }
    }

    @Test func missingFileIsAConfigError() {
        #expect(throws: LifeboatError.self) { try loader.load(path: "/nonexistent/lifeboat.yml") }
    }

    @Test func sourceWithoutURLSaysHowToGiveOne() {
        #expect {
            try SourceConfig(url: nil).requireURL()
        } throws: { ($0 as? LifeboatError)?.message.contains("DATABASE_URL") == true }
    }
}
