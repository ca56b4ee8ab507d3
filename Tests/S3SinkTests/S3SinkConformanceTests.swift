import Foundation
import LifeboatCore
import LifeboatS3Sink
import LifeboatSinkTests
import Testing

/// The S3 sink passes the sink conformance kit against the test server, each check under a fresh prefix.
@Suite(.enabled(if: S3TestServer.enabled, "needs LIFEBOAT_TEST_S3_ENDPOINT (scripts/test sets it)"))
struct S3SinkConformanceTests {
    @Test(arguments: SinkConformance.checks)
    func conformance(check: SinkConformance.Check) async throws {
        try await SinkConformance {
            try S3Sink(target: try S3TestServer.target(prefix: "conformance-\(UUID().uuidString.prefix(8))"))
        }.run(check)
    }
}
