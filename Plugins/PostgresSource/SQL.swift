import Foundation
import LifeboatCore

/// Quoting for SQL text built by Lifeboat.
enum SQL {
    /// A quoted identifier: `"a""b"`.
    static func identifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A quoted, schema-qualified table name.
    static func table(_ table: TableName) -> String {
        identifier(table.schema) + "." + identifier(table.name)
    }

    /// ` ("a", "b")` for a `COPY` column list; empty for a table without columns (or an unknown list).
    static func columnList(_ columns: [String]?) -> String {
        guard let columns, !columns.isEmpty else { return "" }
        return " (" + columns.map(identifier).joined(separator: ", ") + ")"
    }

    /// A quoted string literal, safe with `standard_conforming_strings` on or off.
    static func literal(_ text: String) -> String {
        "E'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// A `pg_dump` name pattern that matches exactly one table.
    static func exactPattern(_ table: TableName) -> String {
        identifier(table.schema) + "." + identifier(table.name)
    }
}
