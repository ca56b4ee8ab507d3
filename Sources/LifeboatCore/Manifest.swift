import Foundation

/// The record of one complete backup: what was captured, from where, the checksum of every artifact, and how each
/// target stored it.
///
/// One run writes the same manifest, last, to every target that stored the whole backup, so any one of them is
/// enough to list, verify and restore it. Stored as `manifest.json` beside the artifacts. The format is versioned: a reader refuses a
/// manifest whose ``formatVersion`` is newer than ``Manifest/currentFormatVersion``.
public struct Manifest: Codable, Sendable, Equatable {
    /// The manifest format this build writes and the newest it reads.
    public static let currentFormatVersion = 2

    /// The format of this manifest.
    public var formatVersion: Int
    /// The backup id: the UTC start time as `YYYYMMDDHHMMSS`.
    public var id: String
    /// An optional label, e.g. `before-migration`.
    public var label: String?
    /// The configuration's environment, e.g. `production`, if it names one.
    public var environment: String?
    /// When the backup started.
    public var startedAt: Date
    /// When the last artifact was stored.
    public var finishedAt: Date
    /// `finishedAt - startedAt`, in seconds.
    public var durationSeconds: Double
    /// The tool that wrote the backup.
    public var tool: ToolInfo
    /// The database the backup was taken from.
    public var source: SourceInfo
    /// Every artifact, in restore order.
    public var artifacts: [Artifact]
    /// Every target the run wrote to, in configuration order, with its outcome and stored artifacts.
    public var targets: [TargetRecord]

    /// Creates a manifest in the current format.
    public init(
        id: String, label: String?, environment: String? = nil, startedAt: Date, finishedAt: Date, source: SourceInfo,
        artifacts: [Artifact], targets: [TargetRecord]
    ) {
        self.formatVersion = Self.currentFormatVersion
        self.id = id
        self.label = label
        self.environment = environment
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationSeconds = (finishedAt.timeIntervalSince(startedAt) * 1000).rounded() / 1000
        self.tool = ToolInfo()
        self.source = source
        self.artifacts = artifacts
        self.targets = targets
    }

    /// The total number of rows in the backup's tables.
    public var totalRows: Int { artifacts.reduce(0) { $0 + ($1.rows ?? 0) } }

    /// The total number of raw bytes.
    public var rawBytes: Int { artifacts.reduce(0) { $0 + $1.rawBytes } }
}

/// The tool that wrote a backup.
public struct ToolInfo: Codable, Sendable, Equatable {
    /// Always `lifeboat`.
    public var name = "lifeboat"
    /// The version of Lifeboat.
    public var version = LifeboatVersion.current
}

/// The Lifeboat release.
public enum LifeboatVersion {
    /// This build's version.
    public static let current = "0.1.0"
}

/// What a manifest records about the source database.
public struct SourceInfo: Codable, Sendable, Equatable {
    /// The kind of source, e.g. `postgresql`.
    public var kind: String
    /// The server version, e.g. `15.18`.
    public var serverVersion: String
    /// The database name.
    public var database: String
    /// `pg_database_size` at the snapshot.
    public var sizeBytes: Int
    /// The exported snapshot every artifact was read under.
    public var snapshot: String
    /// The character encoding of the table data artifacts (the database's encoding).
    public var encoding: String
    /// The major version of the tool that wrote the schema archive (`pg_dump`); a restore needs one as new.
    public var dumpToolMajorVersion: Int?
    /// The server as the source URL names it, `host:port`: with ``database``, which database this is a backup of.
    public var server: String?
    /// The database itself, whatever address or name reaches it, while its server runs: an opaque value, equal
    /// for two connections to the same database and only then; `nil` when the source cannot tell. (PostgreSQL:
    /// the server's start time and the database's oid.)
    public var identity: String?

    /// Creates source information.
    public init(
        kind: String, serverVersion: String, database: String, sizeBytes: Int, snapshot: String, encoding: String
    ) {
        self.encoding = encoding
        self.kind = kind
        self.serverVersion = serverVersion
        self.database = database
        self.sizeBytes = sizeBytes
        self.snapshot = snapshot
    }
}

/// One artifact of a backup, as the source produced it. How each target stored it is in ``TargetRecord``.
public struct Artifact: Codable, Sendable, Equatable {
    /// The artifact's name, made by ``ArtifactName``; a target stores it under this name plus its codec's suffix.
    public var name: String
    /// What the artifact holds.
    public var kind: ArtifactKind
    /// The table whose rows it holds, for table data.
    public var table: TableName?
    /// The table's columns in the order the data holds them, for table data.
    public var columns: [String]?
    /// The number of rows, for table data.
    public var rows: Int?
    /// Bytes before encoding.
    public var rawBytes: Int
    /// Lowercase hex SHA-256 of the raw bytes, checked after decoding (catches a codec fault).
    public var rawSha256: String

    /// Creates an artifact record.
    public init(plan: ArtifactPlan, rows: Int?, rawBytes: Int, rawSha256: String) {
        self.name = plan.name
        self.kind = plan.kind
        self.table = plan.table
        self.columns = plan.columns
        self.rows = rows
        self.rawBytes = rawBytes
        self.rawSha256 = rawSha256
    }
}

/// What an artifact holds.
public struct ArtifactKind: RawRepresentable, Codable, Hashable, Sendable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The schema and everything else that is not table data, as a `pg_dump` custom-format archive.
    public static let schema = ArtifactKind(rawValue: "schema")
    /// The rows of one table in `COPY` text format.
    public static let tableData = ArtifactKind(rawValue: "table-data")
}

/// A schema-qualified table name.
public struct TableName: Codable, Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The schema.
    public var schema: String
    /// The table.
    public var name: String

    /// Creates a table name.
    public init(schema: String, name: String) {
        self.schema = schema
        self.name = name
    }

    /// `schema.name`, for people (not SQL).
    public var description: String { "\(schema).\(name)" }

    public static func < (a: TableName, b: TableName) -> Bool { (a.schema, a.name) < (b.schema, b.name) }
}

/// An artifact a source plans to dump.
public struct ArtifactPlan: Sendable, Equatable {
    /// The artifact's relative path, made by ``ArtifactName``.
    public var name: String
    /// What it holds.
    public var kind: ArtifactKind
    /// The table, for table data.
    public var table: TableName?
    /// The table's columns in data order, for table data. Restores name them explicitly, because a restored
    /// table's physical column order can differ from the source's (e.g. a column added to an inheritance parent).
    public var columns: [String]?
    /// The SQL types of ``columns`` as the source names them (e.g. `numeric(12,2)`), for targets that create
    /// tables of their own; not recorded in the manifest.
    public var columnTypes: [String]?

    /// Creates a plan.
    public init(
        name: String, kind: ArtifactKind, table: TableName? = nil, columns: [String]? = nil,
        columnTypes: [String]? = nil
    ) {
        self.name = name
        self.kind = kind
        self.table = table
        self.columns = columns
        self.columnTypes = columnTypes
    }
}

extension Manifest {
    /// Times are UTC ISO 8601 with milliseconds, e.g. `2025-01-03T14:30:22.500Z`.
    static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// The manifest as pretty, stable JSON.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Self.timestampStyle))
        }
        return Array(try encoder.encode(self)) + [UInt8(ascii: "\n")]
    }

    /// Reads a manifest.
    /// - Parameter where: Names the manifest in error messages.
    /// - Throws: ``LifeboatError`` when the bytes are not a manifest, or one from a newer Lifeboat.
    public static func decode(_ bytes: [UInt8], from place: String) throws -> Manifest {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = (try? Date(text, strategy: Self.timestampStyle)) ?? (try? Date(text, strategy: .iso8601)) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad time"))
            }
            return date
        }
        struct Header: Decodable { var formatVersion: Int }
        do {
            let header = try decoder.decode(Header.self, from: Data(bytes))
            guard header.formatVersion >= 2 else {
                throw LifeboatError(
                    .configInvalid,
                    "\(place) has manifest format \(header.formatVersion) of a pre-release Lifeboat, which this one "
                        + "does not read; restore it with examples/restore-by-hand.sh")
            }
            guard header.formatVersion <= currentFormatVersion else {
                throw LifeboatError(
                    .configInvalid,
                    "\(place) has manifest format \(header.formatVersion), newer than this Lifeboat reads "
                        + "(\(currentFormatVersion)); upgrade Lifeboat")
            }
            let manifest = try decoder.decode(Manifest.self, from: Data(bytes))
            try manifest.checkConsistency(place)
            return manifest
        } catch let error as LifeboatError {
            throw error
        } catch {
            throw LifeboatError(
                .checksumMismatch, "\(place) is not a valid manifest; the backup is damaged, use another one",
                cause: error)
        }
    }
}
