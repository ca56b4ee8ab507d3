import Foundation

/// Removes secrets from text that may reach a person or a file.
public enum Redact {
    /// A URL with its password replaced by `***`, e.g. `postgresql://app:***@db/app`.
    /// Query parameters named like secrets (`password`, `secret`, `token`, `key`) are masked too.
    public static func url(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.scheme != nil else {
            return keywordConnectionString(text)
        }
        if components.password != nil { components.password = "***" }
        components.queryItems = components.queryItems?.map { item in
            let lowered = item.name.lowercased()
            let secret = ["password", "secret", "token", "key"].contains { lowered.contains($0) }
            return secret ? URLQueryItem(name: item.name, value: "***") : item
        }
        if components.queryItems?.isEmpty == true { components.queryItems = nil }
        return components.string ?? "(unprintable URL)"
    }

    /// A libpq keyword/value string (`host=x password=y`) with the password masked.
    private static func keywordConnectionString(_ text: String) -> String {
        guard let range = text.range(of: #"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)"#, options: .regularExpression)
        else { return text }
        return text.replacingCharacters(in: range, with: "password=***")
    }
}
