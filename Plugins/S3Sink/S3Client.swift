import Crypto
import Foundation
import LifeboatCore

/// An S3 error reply, or a transfer that never got one.
struct S3Error: Error, CustomStringConvertible {
    /// The HTTP status; 0 when no response arrived.
    let status: Int
    /// S3's error code, e.g. `SignatureDoesNotMatch`, or the transport failure.
    let code: String
    let message: String
    /// The request, e.g. `PUT s3://bucket/key`.
    let request: String

    var description: String { "\(request) failed: \(status == 0 ? "" : "\(status) ")\(code): \(message)" }

    /// Whether trying again may help: transport failures, 5xx, throttling.
    var isRetryable: Bool {
        status == 0 || status >= 500 || status == 429
            || ["SlowDown", "RequestTimeout", "InternalError", "RequestTimeTooSkewed"].contains(code)
    }
}

/// S3 requests for one bucket: signed, retried with backoff, over a small pool of kept-alive connections.
final class S3Client: Sendable {
    let settings: S3Settings
    private let signer: SigV4Signer
    private let connections: CurlPool

    init(settings: S3Settings) throws {
        self.settings = settings
        signer = SigV4Signer(credentials: settings.credentials, region: settings.region)
        connections = CurlPool(size: settings.concurrency + 2, options: settings.transfer)
    }

    /// `s3://bucket/key`, for messages.
    func describe(_ key: String) -> String { "s3://\(settings.bucket)/\(key)" }

    /// Sends a request, retrying what may succeed on a second try, and returns a response whose status is in
    /// `expected`.
    /// - Throws: ``S3Error`` for any other status, after the retries.
    func send(
        _ method: String, key: String = "", query: [(String, String)] = [], headers: [String: String] = [:],
        body: [UInt8] = [], expected: Set<Int> = [200]
    ) async throws -> HTTPResponse {
        let path = settings.pathStyle ? "/\(settings.bucket)/\(key)" : "/\(key)"
        let queryString = SigV4Signer.canonicalQuery(query)
        let url = settings.endpointBase(bucket: settings.bucket) + SigV4Signer.encodePath(path)
            + (queryString.isEmpty ? "" : "?" + queryString)
        let payloadHash = SigV4Signer.hex(SHA256.hash(data: body))
        let label = "\(method) \(describe(key))\(query.isEmpty ? "" : "?" + query.map(\.0).joined(separator: "&"))"
        var attempt = 0
        while true {
            attempt += 1
            var all = headers
            all["Host"] = settings.hostHeader(bucket: settings.bucket)
            let signed = signer.sign(
                method: method, path: path, query: query, headers: all, payloadHash: payloadHash, date: Date())
            all.merge(signed) { _, new in new }
            let failure: S3Error
            do {
                let response = try await connections.perform(HTTPRequest(method: method, url: url, headers: all, body: body))
                if expected.contains(response.status) { return response }
                failure = Self.error(response, request: label)
            } catch let error as TransportError {
                failure = S3Error(status: 0, code: "connection", message: error.description, request: label)
            }
            guard failure.isRetryable, attempt < settings.maxAttempts else { throw failure }
            // Exponential backoff with full jitter: 0.1 s, 0.2 s, 0.4 s ... capped at 5 s.
            let ceiling = min(5.0, 0.1 * pow(2.0, Double(attempt - 1)))
            try await Task.sleep(for: .seconds(Double.random(in: 0...ceiling)))
        }
    }

    private static func error(_ response: HTTPResponse, request: String) -> S3Error {
        let tree = XMLTree.parse(response.body)
        return S3Error(
            status: response.status, code: tree?.value("Code") ?? "HTTP \(response.status)",
            message: tree?.value("Message") ?? "no details", request: request)
    }

    // MARK: Objects

    /// Uploads a whole object in one request and checks the stored bytes' MD5 against the ETag.
    func putObject(_ key: String, _ bytes: [UInt8], headers: [String: String] = [:]) async throws {
        var all = settings.uploadHeaders.merging(headers) { $1 }
        all["Content-MD5"] = Self.contentMD5(bytes)
        let response = try await send("PUT", key: key, headers: all, body: bytes)
        try checkETag(response, bytes, key)
    }

    /// Reserves `key` by creating it only if it does not exist yet (`If-None-Match: *`).
    /// - Returns: `false` when another writer already holds it.
    func createExclusively(_ key: String, _ bytes: [UInt8]) async throws -> Bool {
        let response = try await send(
            "PUT", key: key, headers: ["If-None-Match": "*", "Content-MD5": Self.contentMD5(bytes)], body: bytes,
            expected: [200, 412])
        return response.status == 200
    }

    /// The base64 MD5 that S3 checks the received bytes against.
    static func contentMD5(_ bytes: [UInt8]) -> String { Data(Insecure.MD5.hash(data: bytes)).base64EncodedString() }

    /// Reads an object, or one range of it; `nil` when it does not exist.
    func getObject(_ key: String, range: Range<Int>? = nil) async throws -> [UInt8]? {
        let headers = range.map { ["Range": "bytes=\($0.lowerBound)-\($0.upperBound - 1)"] } ?? [:]
        let response = try await send("GET", key: key, headers: headers, expected: [200, 206, 404])
        return response.status == 404 ? nil : response.body
    }

    /// An object's size; `nil` when it does not exist.
    func headObject(_ key: String) async throws -> Int? {
        let response = try await send("HEAD", key: key, expected: [200, 404])
        return response.status == 404 ? nil : Int(response.headers["content-length"] ?? "")
    }

    /// Every key (and, with a delimiter, every common prefix) under `prefix`, page by page.
    func list(prefix: String, delimiter: String? = nil, pageSize: Int = 1000) async throws
        -> (keys: [String], prefixes: [String])
    {
        var keys: [String] = [], prefixes: [String] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix), ("max-keys", String(pageSize))]
            if let delimiter { query.append(("delimiter", delimiter)) }
            if let token { query.append(("continuation-token", token)) }
            let tree = try parse(try await send("GET", query: query))
            keys += tree.all("Contents").compactMap { $0.value("Key") }
            prefixes += tree.all("CommonPrefixes").compactMap { $0.value("Prefix") }
            token = tree.value("IsTruncated") == "true" ? tree.value("NextContinuationToken") : nil
        } while token != nil
        return (keys, prefixes)
    }

    /// Deletes keys, up to 1,000 per request.
    func deleteObjects(_ keys: [String]) async throws {
        for start in stride(from: 0, to: keys.count, by: 1000) {
            let objects = keys[start..<min(keys.count, start + 1000)].map { "<Object><Key>\(Self.escape($0))</Key></Object>" }
            let body = Array("<Delete><Quiet>true</Quiet>\(objects.joined())</Delete>".utf8)
            let md5 = Data(Insecure.MD5.hash(data: body)).base64EncodedString()
            let response = try await send(
                "POST", query: [("delete", "")], headers: ["Content-MD5": md5, "Content-Type": "application/xml"],
                body: body)
            let reply = XMLTree.parse(response.body)
            if reply?.name == "Error" {
                throw Self.error(response, request: "POST \(describe(""))?delete")
            }
            if let failed = reply?.all("Error").first {
                throw S3Error(
                    status: 200, code: failed.value("Code") ?? "DeleteFailed", message: failed.value("Message") ?? "",
                    request: "DELETE \(describe(failed.value("Key") ?? ""))")
            }
        }
    }

    // MARK: Multipart uploads

    /// Starts a multipart upload and returns its id.
    func createMultipartUpload(_ key: String) async throws -> String {
        let tree = try parse(try await send("POST", key: key, query: [("uploads", "")], headers: settings.uploadHeaders))
        guard let id = tree.value("UploadId") else {
            throw S3Error(status: 200, code: "BadReply", message: "no UploadId", request: "POST \(describe(key))?uploads")
        }
        return id
    }

    /// Uploads one part and returns its checked ETag.
    func uploadPart(_ key: String, uploadID: String, number: Int, _ bytes: [UInt8]) async throws -> String {
        var attempt = 0
        while true {
            attempt += 1
            let response = try await send(
                "PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                headers: ["Content-MD5": Self.contentMD5(bytes)], body: bytes)
            do {
                return try checkETag(response, bytes, key)
            } catch {
                // A part is idempotent: one that arrived damaged is simply sent again, a few times.
                guard attempt < 3 else { throw error }
            }
        }
    }

    /// Completes a multipart upload. A retried completion may find the upload already complete, so the object
    /// itself, not the reply, decides: it must exist with the expected size.
    func completeMultipartUpload(_ key: String, uploadID: String, parts: [(Int, String)], size: Int) async throws {
        let list = parts.map { "<Part><PartNumber>\($0.0)</PartNumber><ETag>\($0.1)</ETag></Part>" }.joined()
        let body = Array("<CompleteMultipartUpload>\(list)</CompleteMultipartUpload>".utf8)
        var completionError: (any Error)?
        for attempt in 1...settings.maxAttempts {
            do {
                let response = try await send(
                    "POST", key: key, query: [("uploadId", uploadID)], headers: ["Content-Type": "application/xml"],
                    body: body)
                // S3 may answer 200 with an error document, which AWS says to retry like a 5xx.
                guard let tree = XMLTree.parse(response.body), tree.name == "Error" else {
                    completionError = nil
                    break
                }
                let error = Self.error(response, request: "POST \(describe(key))?uploadId")
                completionError = error
                guard error.isRetryable || error.code == "InternalError", attempt < settings.maxAttempts else { break }
                try await Task.sleep(for: .seconds(Double.random(in: 0...min(5.0, 0.1 * pow(2.0, Double(attempt))))))
            } catch let error as S3Error {
                completionError = error
                break
            }
        }
        let stored = try await headObject(key)
        guard stored == size else {
            throw completionError
                ?? S3Error(status: 200, code: "SizeMismatch", message: "stored \(stored ?? 0) bytes, sent \(size)",
                           request: "POST \(describe(key))?uploadId")
        }
    }

    /// Aborts a multipart upload; an upload already gone is fine.
    func abortMultipartUpload(_ key: String, uploadID: String) async throws {
        _ = try await send("DELETE", key: key, query: [("uploadId", uploadID)], expected: [200, 204, 404])
    }

    /// The multipart uploads in progress under `prefix`.
    func listMultipartUploads(prefix: String) async throws -> [(key: String, uploadID: String, started: Date)] {
        var uploads: [(String, String, Date)] = []
        var markers: (String, String)?
        repeat {
            var query = [("uploads", ""), ("prefix", prefix)]
            if let markers { query += [("key-marker", markers.0), ("upload-id-marker", markers.1)] }
            let tree = try parse(try await send("GET", query: query))
            uploads += tree.all("Upload").compactMap { upload in
                guard let key = upload.value("Key"), let id = upload.value("UploadId") else { return nil }
                let started = upload.value("Initiated").flatMap { try? Date($0, strategy: .iso8601) } ?? .distantPast
                return (key, id, started)
            }
            let next = (tree.value("NextKeyMarker") ?? "", tree.value("NextUploadIdMarker") ?? "")
            // A server that says "truncated" without a new marker would loop forever: stop there.
            markers = tree.value("IsTruncated") == "true" && !next.0.isEmpty && next.0 != markers?.0 ? next : nil
        } while markers != nil
        return uploads
    }

    // MARK: Helpers

    private func parse(_ response: HTTPResponse) throws -> XMLTree {
        guard let tree = XMLTree.parse(response.body) else {
            throw S3Error(status: response.status, code: "BadReply", message: "the reply is not XML", request: settings.bucket)
        }
        return tree
    }

    /// Checks that the server stored exactly `bytes`: its ETag is their MD5, unless KMS encryption (ours or the
    /// bucket's default) makes the ETag opaque. S3 has then already checked the bytes against `Content-MD5`.
    @discardableResult
    private func checkETag(_ response: HTTPResponse, _ bytes: [UInt8], _ key: String) throws -> String {
        let etag = response.headers["etag"] ?? ""
        let encryption = response.headers["x-amz-server-side-encryption"] ?? "AES256"
        guard encryption == "AES256", settings.sse != "aws:kms" else { return etag }
        let expected = "\"" + SigV4Signer.hex(Insecure.MD5.hash(data: bytes)) + "\""
        guard etag == expected else {
            throw S3Error(
                status: response.status, code: "ChecksumMismatch",
                message: "the server's ETag \(etag) is not the MD5 of the bytes sent", request: "PUT \(describe(key))")
        }
        return etag
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// Kept-alive curl connections, one request at a time each.
actor CurlPool {
    private var idle: [CurlConnection] = []
    private var created = 0
    private var waiting: [CheckedContinuation<CurlConnection, Never>] = []
    private let size: Int
    private let options: TransferOptions

    init(size: Int, options: TransferOptions) {
        self.size = size
        self.options = options
    }

    func perform(_ request: HTTPRequest) async throws -> HTTPResponse {
        let connection = try await acquire()
        defer { release(connection) }
        return try await connection.perform(request)
    }

    private func acquire() async throws -> CurlConnection {
        if let connection = idle.popLast() { return connection }
        if created < size {
            created += 1
            return try CurlConnection(options: options)
        }
        return await withCheckedContinuation { waiting.append($0) }
    }

    private func release(_ connection: CurlConnection) {
        if waiting.isEmpty { idle.append(connection) } else { waiting.removeFirst().resume(returning: connection) }
    }
}
