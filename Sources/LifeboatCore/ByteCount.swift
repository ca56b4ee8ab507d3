import Foundation

/// Byte counts for people: `512 B`, `1.5 KiB`, `3.0 GiB`.
public enum ByteCount {
    /// `bytes` in the largest binary unit that keeps the number at least 1.
    public static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}
