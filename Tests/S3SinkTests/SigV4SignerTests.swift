import Foundation
import Testing

@testable import LifeboatS3Sink

/// The worked examples of AWS's "Signature Calculations for the Authorization Header" (S3 API reference).
@Suite struct SigV4SignerTests {
    let signer = SigV4Signer(
        credentials: .init(
            accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            sessionToken: nil),
        region: "us-east-1")
    let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z

    func signature(_ headers: [String: String]) -> String {
        String(headers["Authorization"]!.split(separator: "=").last!)
    }

    @Test func getObjectWithRange() {
        let headers = signer.sign(
            method: "GET", path: "/test.txt", query: [],
            headers: ["Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9"],
            payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(signature(headers) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers["Authorization"]!.contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"))
        #expect(headers["x-amz-date"] == "20130524T000000Z")
    }

    @Test func putObject() {
        let headers = signer.sign(
            method: "PUT", path: "/test$file.text", query: [],
            headers: [
                "Host": "examplebucket.s3.amazonaws.com", "Date": "Fri, 24 May 2013 00:00:00 GMT",
                "x-amz-storage-class": "REDUCED_REDUNDANCY",
            ],
            payloadHash: "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072", date: date)
        #expect(signature(headers) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func getBucketLifecycle() {
        let headers = signer.sign(
            method: "GET", path: "/", query: [("lifecycle", "")],
            headers: ["Host": "examplebucket.s3.amazonaws.com"], payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(signature(headers) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test func listObjectsWithSortedQuery() {
        let headers = signer.sign(
            method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")],
            headers: ["Host": "examplebucket.s3.amazonaws.com"], payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(signature(headers) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func encodingFollowsAWSRules() {
        #expect(SigV4Signer.encode("a b/c~d*e") == "a%20b%2Fc~d%2Ae")
        #expect(SigV4Signer.encodePath("/bucket/dir/file name+1") == "/bucket/dir/file%20name%2B1")
        #expect(SigV4Signer.canonicalQuery([("uploads", ""), ("prefix", "dir/")]) == "prefix=dir%2F&uploads=")
    }

    @Test func sessionTokenIsSigned() {
        let temporary = SigV4Signer(
            credentials: .init(accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: "token"), region: "eu-west-1")
        let headers = temporary.sign(
            method: "GET", path: "/", query: [], headers: ["Host": "h"], payloadHash: SigV4Signer.emptyPayloadHash,
            date: date)
        #expect(headers["x-amz-security-token"] == "token")
        #expect(headers["Authorization"]!.contains("x-amz-security-token"))
        #expect(headers["Authorization"]!.contains("/eu-west-1/s3/aws4_request"))
    }
}
