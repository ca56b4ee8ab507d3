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

    @Test func retentionAndEnvironment() throws {
        let config = try loader.parse("""
            environment: staging
            targets:
              - name: primary
                url: /b
                retention: {keep_last: 3, daily: 7, weekly: 4, monthly: 12, yearly: 2, max_age: 30d, pin: [before-*]}
              - name: offsite
                url: /c
            """)
        #expect(config.environment == "staging")
        #expect(config.targets[0].retention == RetentionPolicy(
            keepLast: 3, daily: 7, weekly: 4, monthly: 12, yearly: 2, maxAge: 2_592_000, pin: ["before-*"]))
        #expect(config.retention(of: config.targets[0]) == config.targets[0].retention)
        #expect(config.retention(of: config.targets[1]) == RetentionPolicy(maxAge: 604_800))
    }

    @Test func environmentComesFromLifeboatEnvThenNodeEnv() throws {
        #expect(try ConfigLoader(environment: ["NODE_ENV": "production"]).load(path: nil).environment == "production")
        #expect(try ConfigLoader(environment: ["NODE_ENV": "production", "LIFEBOAT_ENV": "archive"]).parse("{}").environment == "archive")
        #expect(try ConfigLoader(environment: [:]).parse("{}").environment == nil)
        #expect(throws: LifeboatError.self) { try ConfigLoader(environment: ["LIFEBOAT_ENV": "pro duction"]).parse("{}") }
    }

    @Test func badRetentionIsExplained() {
        let cases = [
            ("{max_age: 30}", "max_age must be a number and a unit: 12h, 30d, 8w or 1y"),
            ("{daily: 0}", "targets[0].retention.daily must be a whole number from 1"),
            ("{hourly: 3}", "unknown key 'targets[0].retention.hourly'"),
            ("{pin: before-*}", "retention.pin must be a list of label patterns"),
        ]
        for (yaml, message) in cases {
            #expect { try loader.parse("targets:\n  - url: /b\n    retention: \(yaml)\n") } throws: { error in
                (error as? LifeboatError)?.message.contains(message) == true
            }
        }
    }

    @Test func listValuedKeysReachTheirSink() throws {
        let config = try loader.parse("targets:\n  - url: 'exec://'\n    command: [python3, /opt/sink.py]\n    path: /x\n")
        #expect(config.targets[0].listOptions == ["command": ["python3", "/opt/sink.py"]])
        #expect(config.targets[0].options == ["path": "/x"])
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
