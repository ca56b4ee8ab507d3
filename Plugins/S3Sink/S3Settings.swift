import Foundation
import LifeboatCore

/// An S3 target's configuration: `url: s3://bucket/prefix` and the keys beside it.
struct S3Settings: Sendable {
    static let keys: Set<String> = [
        "endpoint", "region", "path_style", "storage_class", "sse", "sse_kms_key_id", "ca_file", "part_size_mb",
        "concurrency", "access_key_id", "secret_access_key", "session_token", "timeout_seconds",
    ]

    let bucket: String
    /// The key prefix of every backup, `""` or ending in `/`.
    let prefix: String
    let region: String
    /// `scheme://host[:port]` of the service.
    let endpoint: URL
    /// `https://host/bucket/key` rather than `https://bucket.host/key`.
    let pathStyle: Bool
    let storageClass: String?
    let sse: String?
    let sseKMSKeyID: String?
    let credentials: SigV4Signer.Credentials
    let transfer: TransferOptions
    /// Multipart part size in bytes.
    let partSize: Int
    /// Parts uploaded at once per artifact.
    let concurrency: Int
    let maxAttempts = 6

    init(target: TargetConfig, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try target.checkOptions(known: Self.keys)
        let options = target.options
        func invalid(_ what: String) -> LifeboatError {
            LifeboatError(.configInvalid, "target '\(target.name)': \(what)")
        }
        guard let url = URLComponents(string: target.url), url.scheme == "s3", let bucket = url.host, !bucket.isEmpty else {
            throw invalid("url must look like s3://bucket/prefix")
        }
        self.bucket = bucket
        let path = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        prefix = path.isEmpty ? "" : path + "/"
        region = options["region"] ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        // As with the AWS CLI and SDKs, these set the endpoint of every S3 target that names none (e.g. a replica
        // given only by DATABASE_BACKUP_URL).
        let givenEndpoint = options["endpoint"] ?? environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"]
        if let given = givenEndpoint {
            guard let endpoint = URL(string: given), let scheme = endpoint.scheme, ["http", "https"].contains(scheme),
                endpoint.host != nil, endpoint.path.isEmpty || endpoint.path == "/", endpoint.query == nil
            else { throw invalid("endpoint must be an http:// or https:// URL of a host (and port), without a path") }
            self.endpoint = endpoint
        } else {
            endpoint = URL(string: "https://s3.\(region).amazonaws.com")!
        }
        switch options["path_style"]?.lowercased() {
        // A dotted bucket name is not covered by S3's wildcard TLS certificate as a host name.
        case nil: pathStyle = givenEndpoint != nil || bucket.contains(".")
        case "true": pathStyle = true
        case "false": pathStyle = false
        default: throw invalid("path_style must be true or false")
        }
        storageClass = options["storage_class"]
        sse = options["sse"]
        sseKMSKeyID = options["sse_kms_key_id"]
        if let sse, !["AES256", "aws:kms"].contains(sse) { throw invalid("sse must be AES256 or aws:kms") }

        guard let key = options["access_key_id"] ?? environment["AWS_ACCESS_KEY_ID"],
            let secret = options["secret_access_key"] ?? environment["AWS_SECRET_ACCESS_KEY"]
        else {
            throw LifeboatError(
                .authenticationFailed,
                "target '\(target.name)' has no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        }
        // The token comes from where the keys come from: a stale AWS_SESSION_TOKEN must not join configured keys.
        credentials = .init(
            accessKeyID: key, secretAccessKey: secret,
            sessionToken: options["access_key_id"] != nil ? options["session_token"] : environment["AWS_SESSION_TOKEN"])
        var transfer = TransferOptions()
        transfer.caFile = options["ca_file"]
        guard let timeout = Int(options["timeout_seconds"] ?? "30"), (1...3600).contains(timeout) else {
            throw invalid("timeout_seconds must be 1-3600")
        }
        transfer.lowSpeedSeconds = timeout
        self.transfer = transfer
        // AWS refuses parts under 5 MiB (but the last); a self-hosted endpoint may allow smaller ones.
        let smallest = givenEndpoint == nil ? 5 : 1
        guard let parts = Int(options["part_size_mb"] ?? "8"), (smallest...5120).contains(parts),
            let concurrency = Int(options["concurrency"] ?? "4"), (1...64).contains(concurrency)
        else { throw invalid("part_size_mb must be \(smallest)-5120 and concurrency 1-64") }
        partSize = parts << 20
        self.concurrency = concurrency
    }

    /// The base URL requests go to.
    func endpointBase(bucket: String) -> String {
        let scheme = endpoint.scheme ?? "https"
        return "\(scheme)://\(hostHeader(bucket: bucket))"
    }

    /// The `Host` header (and signed host): with the port when one is given.
    func hostHeader(bucket: String) -> String {
        var host = endpoint.host!
        if host.contains(":") { host = "[\(host)]" }  // an IPv6 literal
        if !pathStyle { host = "\(bucket).\(host)" }
        return endpoint.port.map { "\(host):\($0)" } ?? host
    }

    /// Headers every upload carries: storage class and encryption.
    var uploadHeaders: [String: String] {
        var headers: [String: String] = [:]
        if let storageClass { headers["x-amz-storage-class"] = storageClass }
        if let sse { headers["x-amz-server-side-encryption"] = sse }
        if let sseKMSKeyID { headers["x-amz-server-side-encryption-aws-kms-key-id"] = sseKMSKeyID }
        return headers
    }
}
