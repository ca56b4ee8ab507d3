internal import CLibPQ
import Foundation
import LifeboatCore

/// An error reported by the server, with its SQLSTATE.
struct PostgresServerError: Error, CustomStringConvertible {
    let sqlState: String
    let message: String
    var description: String { "\(message) (SQLSTATE \(sqlState))" }
}

/// Turns libpq failures into one-line ``LifeboatError``s.
enum PostgresErrors {
    /// Classifies a failed connection attempt.
    static func connectionFailure(_ libpqMessage: String, info: ConnectionInfo) -> LifeboatError {
        let detail = oneLine(libpqMessage)
        let lowered = detail.lowercased()
        if lowered.contains("password authentication failed") || lowered.contains("no password supplied")
            || lowered.contains("authentication failed")
        {
            return LifeboatError(
                .authenticationFailed,
                "cannot log in to \(info.display): \(detail); check the user and password in the URL")
        }
        if lowered.contains("is not currently accepting connections") {
            return LifeboatError(
                .sourceUnreachable,
                "database \(info.display) does not accept connections (ALLOW_CONNECTIONS is false; a 'lifeboat "
                    + "restore --clean' killed while swapping leaves it so): if nobody set it on purpose, run "
                    + "ALTER DATABASE ... ALLOW_CONNECTIONS true")
        }
        if lowered.contains("database") && lowered.contains("does not exist") {
            return LifeboatError(
                .databaseMissing, "cannot open \(info.display): \(detail); create it or fix the database name")
        }
        return LifeboatError(
            .sourceUnreachable,
            "cannot reach the PostgreSQL server for \(info.display): \(detail); check the host and port and "
                + "that the server is running")
    }

    /// The error of a failed statement.
    static func serverError(_ result: OpaquePointer?, _ handle: OpaquePointer) -> PostgresServerError {
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? "?????"
        let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
        return PostgresServerError(sqlState: state, message: oneLine(primary ?? String(cString: PQerrorMessage(handle))))
    }

    /// The error when the connection breaks mid-stream.
    static func connectionLost(_ handle: OpaquePointer) -> PostgresServerError {
        PostgresServerError(sqlState: "08006", message: oneLine(String(cString: PQerrorMessage(handle))))
    }

    /// Folds a multi-line libpq message into one line.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
    }
}
