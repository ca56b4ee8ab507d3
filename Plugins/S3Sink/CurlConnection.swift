internal import CCurl
import Foundation
import LifeboatCore

/// One HTTP request, fully formed: URL with its encoded query, headers, body.
struct HTTPRequest: Sendable {
    var method: String
    var url: String
    var headers: [String: String]
    var body: [UInt8] = []
}

/// One HTTP response, body in memory (S3 replies, or one ranged read of bounded size).
struct HTTPResponse: Sendable {
    var status: Int
    /// Header names in lowercase.
    var headers: [String: String]
    var body: [UInt8]
}

/// A transfer that failed below HTTP: no connection, a reset, a timeout.
struct TransportError: Error, CustomStringConvertible {
    let description: String
}

/// Timeouts and TLS settings for every request.
struct TransferOptions: Sendable {
    /// Give up connecting after this long.
    var connectTimeoutSeconds = 10
    /// Abort a transfer slower than `lowSpeedBytes` per second for `lowSpeedSeconds`.
    var lowSpeedBytes = 1024
    var lowSpeedSeconds = 30
    /// A CA bundle to trust instead of the system's.
    var caFile: String?
}

/// A libcurl easy handle (and its kept-alive connection) confined to its own thread.
final class CurlConnection: @unchecked Sendable {
    private let worker = BlockingWorker(name: "lifeboat-curl")
    // Touched only on `worker`'s thread, or in deinit.
    private let handle: UnsafeMutableRawPointer
    private let options: TransferOptions

    init(options: TransferOptions) throws {
        guard let handle = curl_easy_init() else { throw TransportError(description: "libcurl could not start") }
        self.handle = handle
        self.options = options
    }

    deinit { curl_easy_cleanup(handle) }

    /// Performs `request` on the connection's thread.
    /// - Throws: ``TransportError`` when no HTTP response arrived.
    func perform(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await worker.run { try self.transfer(request) }
    }

    private func transfer(_ request: HTTPRequest) throws -> HTTPResponse {
        curl_easy_reset(handle)
        let exchange = Exchange(body: request.body)
        let context = Unmanaged.passRetained(exchange)
        defer { context.release() }
        var headerList: UnsafeMutablePointer<curl_slist>?
        // "Expect:" stops curl from waiting for 100-continue; it is not sent, so it is not signed.
        for line in request.headers.map({ "\($0.key): \($0.value)" }) + ["Expect:"] {
            headerList = curl_slist_append(headerList, line)
        }
        defer { curl_slist_free_all(headerList) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { buffer in
            lifeboat_curl_setopt_ptr(handle, CURLOPT_URL, request.url)
            lifeboat_curl_setopt_ptr(handle, CURLOPT_HTTPHEADER, headerList)
            lifeboat_curl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, buffer.baseAddress)
            lifeboat_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            lifeboat_curl_setopt_long(handle, CURLOPT_PATH_AS_IS, 1)  // send the path exactly as signed
            lifeboat_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, options.connectTimeoutSeconds)
            lifeboat_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, options.lowSpeedBytes)
            lifeboat_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, options.lowSpeedSeconds)
            lifeboat_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
            lifeboat_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
            if let caFile = options.caFile { lifeboat_curl_setopt_ptr(handle, CURLOPT_CAINFO, caFile) }
            lifeboat_curl_setopt_ptr(handle, CURLOPT_WRITEFUNCTION, unsafeBitCast(writeBody, to: UnsafeRawPointer.self))
            lifeboat_curl_setopt_ptr(handle, CURLOPT_WRITEDATA, context.toOpaque())
            lifeboat_curl_setopt_ptr(handle, CURLOPT_HEADERFUNCTION, unsafeBitCast(writeHeader, to: UnsafeRawPointer.self))
            lifeboat_curl_setopt_ptr(handle, CURLOPT_HEADERDATA, context.toOpaque())
            switch request.method {
            case "HEAD":
                lifeboat_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
            case "PUT", "POST":
                lifeboat_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
                lifeboat_curl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.count))
                lifeboat_curl_setopt_ptr(handle, CURLOPT_READFUNCTION, unsafeBitCast(readBody, to: UnsafeRawPointer.self))
                lifeboat_curl_setopt_ptr(handle, CURLOPT_READDATA, context.toOpaque())
                lifeboat_curl_setopt_ptr(handle, CURLOPT_CUSTOMREQUEST, request.method)
            case "GET":
                break
            default:
                lifeboat_curl_setopt_ptr(handle, CURLOPT_CUSTOMREQUEST, request.method)
            }
            return curl_easy_perform(handle)
        }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw TransportError(description: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
        }
        var status = 0
        lifeboat_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: exchange.headers, body: exchange.received)
    }
}

/// The state one transfer's callbacks share.
private final class Exchange {
    let body: [UInt8]
    var sent = 0
    var received: [UInt8] = []
    var headers: [String: String] = [:]

    init(body: [UInt8]) { self.body = body }
}

private let writeBody: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, context in
    let exchange = Unmanaged<Exchange>.fromOpaque(context!).takeUnretainedValue()
    data!.withMemoryRebound(to: UInt8.self, capacity: size * count) {
        exchange.received.append(contentsOf: UnsafeBufferPointer(start: $0, count: size * count))
    }
    return size * count
}

private let writeHeader: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, context in
    let exchange = Unmanaged<Exchange>.fromOpaque(context!).takeUnretainedValue()
    let line = data!.withMemoryRebound(to: UInt8.self, capacity: size * count) {
        String(decoding: UnsafeBufferPointer(start: $0, count: size * count), as: UTF8.self)
    }
    if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased()
        exchange.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
    }
    return size * count
}

private let readBody: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    buffer, size, count, context in
    let exchange = Unmanaged<Exchange>.fromOpaque(context!).takeUnretainedValue()
    let length = min(size * count, exchange.body.count - exchange.sent)
    guard length > 0 else { return 0 }
    exchange.body.withUnsafeBytes { source in
        UnsafeMutableRawPointer(buffer!).copyMemory(from: source.baseAddress! + exchange.sent, byteCount: length)
    }
    exchange.sent += length
    return length
}
