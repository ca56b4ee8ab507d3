import Foundation
internal import CLibPQ
import LifeboatCore

/// A parsed PostgreSQL connection URL or keyword string. The password is kept apart so that it only ever reaches
/// libpq and, through `PGPASSWORD`, the client tools: never argv, logs or messages.
struct ConnectionInfo: Sendable {
    /// Keyword/value pairs as libpq parsed them, without the password.
    private let options: [(key: String, value: String)]
    /// The password, if the URL has one.
    let password: String?

    /// Parses `url` with libpq's own parser.
    /// - Throws: ``LifeboatError`` with code `configInvalid`, without echoing the URL.
    init(url: String, place: String) throws {
        if let authority = Self.authority(of: url), authority.filter({ $0 == "@" }).count > 1 {
            throw LifeboatError(
                .configInvalid,
                "\(place) has more than one '@' before the host; percent-encode '@', '/' and ':' in the password "
                    + "(%40, %2F, %3A)")
        }
        var error: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(url, &error) else {
            if let error { PQfreemem(error) }
            throw LifeboatError(
                .configInvalid,
                "\(place) is not a valid PostgreSQL URL; expected postgresql://user:password@host:port/database")
        }
        defer { PQconninfoFree(parsed) }
        var options: [(String, String)] = []
        var password: String?
        var option = parsed
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                let key = String(cString: keyword)
                if key == "password" { password = String(cString: value) } else { options.append((key, String(cString: value))) }
            }
            option += 1
        }
        self.options = options
        self.password = password
    }

    /// The part of a `postgresql://` URL between the scheme and the first `/`, `?` or `#` after the last `@`.
    private static func authority(of url: String) -> Substring? {
        guard let scheme = url.range(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        let end = rest.lastIndex(of: "@").flatMap { at in rest[at...].firstIndex { "/?#".contains($0) } } ?? rest.endIndex
        return rest[..<end]
    }

    private init(options: [(key: String, value: String)], password: String?) {
        self.options = options
        self.password = password
    }

    /// The value of a libpq keyword, if set.
    func value(_ key: String) -> String? { options.last { $0.key == key }?.value }

    /// The database name, if given.
    var database: String? { value("dbname") }

    /// `host:port` as the URL names the server (libpq's defaults for unset parts).
    var serverAddress: String {
        (value("host") ?? value("hostaddr") ?? "localhost") + ":" + (value("port") ?? "5432")
    }

    /// `user@host:port/database` for messages: no password, unset parts left out.
    var display: String {
        var text = value("user").map { $0 + "@" } ?? ""
        text += value("host") ?? value("hostaddr") ?? "localhost"
        if let port = value("port") { text += ":" + port }
        return text + "/" + (database ?? value("user") ?? "")
    }

    /// The same connection to another database on the server.
    func with(database: String) -> ConnectionInfo {
        ConnectionInfo(options: options.filter { $0.key != "dbname" } + [("dbname", database)], password: password)
    }

    /// A libpq keyword/value string without the password, safe for a child process's argv.
    var conninfoWithoutPassword: String {
        options.map { "\($0.key)=\(Self.quote($0.value))" }.joined(separator: " ")
    }

    /// The full keyword/value string, password included, for libpq only.
    var conninfoForLibpq: String {
        var text = conninfoWithoutPassword
        if value("application_name") == nil { text += " fallback_application_name=lifeboat" }
        if let password { text += " password=" + Self.quote(password) }
        return text
    }

    /// The environment a client tool needs for this connection (the password, when there is one).
    var toolEnvironment: [String: String] {
        var environment = ["PGAPPNAME": "lifeboat"]
        if let password { environment["PGPASSWORD"] = password }
        return environment
    }

    private static func quote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}

/// What tells one database from every other while its server runs, whatever host name, address or socket
/// reaches it: the server's start time (to the microsecond; a copy of the server, even one made with
/// `pg_basebackup`, has its own) and the database's oid. Every role may read both.
enum DatabaseIdentity {
    /// SQL giving `<start time>/<oid>` for the row of `pg_database` in scope.
    static let expression = "extract(epoch FROM pg_postmaster_start_time())::text || '/' || oid::text"
}
