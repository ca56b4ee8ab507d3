import LifeboatCore
import Testing

@testable import LifeboatS3Sink

@Suite struct S3SettingsTests {
    let environment = ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "stale"]

    func settings(_ url: String, _ options: [String: String] = [:]) throws -> S3Settings {
        try S3Settings(target: TargetConfig(name: "t", url: url, options: options), environment: environment)
    }

    @Test func aListWhereOneValueBelongsIsRefused() {
        #expect {
            try S3Settings(
                target: TargetConfig(name: "t", url: "s3://b/p", listOptions: ["sse": ["aws:kms"]]), environment: environment)
        } throws: { error in
            "\(error)".contains("target 't': sse takes one value, not a list")
        }
    }

    @Test func awsDefaults() throws {
        let aws = try settings("s3://my-backups/app/prod/")
        #expect(aws.bucket == "my-backups")
        #expect(aws.prefix == "app/prod/")
        #expect(!aws.pathStyle)
        #expect(aws.endpointBase(bucket: aws.bucket) == "https://my-backups.s3.us-east-1.amazonaws.com")
        #expect(aws.partSize == 8 << 20)
        #expect(aws.credentials.sessionToken == "stale")
    }

    @Test func dottedBucketsUsePathStyle() throws {
        let dotted = try settings("s3://my.backups/app", ["region": "eu-west-1"])
        #expect(dotted.pathStyle)
        #expect(dotted.hostHeader(bucket: dotted.bucket) == "s3.eu-west-1.amazonaws.com")
    }

    @Test func selfHostedEndpoints() throws {
        let minio = try settings("s3://b/x", ["endpoint": "http://[::1]:9000", "part_size_mb": "1"])
        #expect(minio.pathStyle)
        #expect(minio.hostHeader(bucket: "b") == "[::1]:9000")
        #expect(throws: LifeboatError.self) { try settings("s3://b/x", ["endpoint": "https://minio.example.com/s3"]) }
    }

    @Test func awsPartsAreAtLeastFiveMebibytes() {
        #expect(throws: LifeboatError.self) { try settings("s3://b/x", ["part_size_mb": "4"]) }
    }

    @Test func configuredKeysNeverBorrowAnEnvironmentToken() throws {
        let configured = try settings("s3://b/x", ["access_key_id": "K", "secret_access_key": "S"])
        #expect(configured.credentials.sessionToken == nil)
    }

    @Test func badValuesAreConfigErrors() {
        for (url, options) in [
            ("s3:///nobucket", [:]), ("file:///x", [:]), ("s3://b/x", ["sse": "rot13"]),
            ("s3://b/x", ["bucket_policy": "x"]), ("s3://b/x", ["path_style": "maybe"]),
        ] as [(String, [String: String])] {
            #expect(throws: LifeboatError.self, "\(url) \(options)") { try settings(url, options) }
        }
    }
}
