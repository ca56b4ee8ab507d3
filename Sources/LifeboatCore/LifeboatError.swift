/// The one error type Lifeboat reports to people.
///
/// `message` says what went wrong and what to do about it, in one line, and never contains a secret:
/// build it with ``Redact`` when it mentions a connection URL. `cause` keeps the low-level detail
/// (a libpq message, an errno) for logs at debug level.
public struct LifeboatError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; the CLI maps it to an exit code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case configInvalid, sourceUnreachable, authenticationFailed, databaseMissing, toolMissing
            case backupNotFound, targetUnwritable, targetNotEmpty, targetInUse, checksumMismatch, artifactMissing
            case backupFailed, restoreFailed, io, interrupted, internalError
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The configuration file or a command-line value is wrong.
        public static let configInvalid = Code(.configInvalid)
        /// The database server cannot be reached.
        public static let sourceUnreachable = Code(.sourceUnreachable)
        /// The server refused the credentials.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The named database does not exist.
        public static let databaseMissing = Code(.databaseMissing)
        /// A required external program (e.g. `pg_dump`) is missing or too old.
        public static let toolMissing = Code(.toolMissing)
        /// No backup matches the requested id or label.
        public static let backupNotFound = Code(.backupNotFound)
        /// A target cannot be created or written.
        public static let targetUnwritable = Code(.targetUnwritable)
        /// A restore target already holds data.
        public static let targetNotEmpty = Code(.targetNotEmpty)
        /// Other sessions use the database a restore would replace.
        public static let targetInUse = Code(.targetInUse)
        /// Stored bytes do not match their recorded SHA-256.
        public static let checksumMismatch = Code(.checksumMismatch)
        /// An artifact named by a manifest is absent.
        public static let artifactMissing = Code(.artifactMissing)
        /// A backup step failed.
        public static let backupFailed = Code(.backupFailed)
        /// A restore step failed.
        public static let restoreFailed = Code(.restoreFailed)
        /// A file-system operation failed.
        public static let io = Code(.io)
        /// The run was stopped by a signal (Ctrl-C, SIGTERM).
        public static let interrupted = Code(.interrupted)
        /// A bug in Lifeboat.
        public static let internalError = Code(.internalError)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// One line: what went wrong and how it may be remedied. Free of secrets.
    public var message: String
    /// The underlying error, if any, for debug logs.
    public var cause: (any Error)?

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: What went wrong and what to do, without secrets.
    ///   - cause: The underlying error, if any.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}
