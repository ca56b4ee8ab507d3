import Foundation

/// Lifeboat's own folder on this machine, for lock files and the default audit log: `LIFEBOAT_STATE_DIR`, else
/// `$XDG_STATE_HOME/lifeboat`, else `~/.local/state/lifeboat`.
public enum StateFolder {
    /// The folder's path; it may not exist yet.
    public static func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let folder = environment["LIFEBOAT_STATE_DIR"], !folder.isEmpty { return folder }
        if let state = environment["XDG_STATE_HOME"], !state.isEmpty { return state + "/lifeboat" }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.local/state/lifeboat"
    }
}
