import LifeboatCore

/// A run's claim on its staging copy: a session-level advisory lock on the copy's name, held on a connection of
/// its own from before the copy exists until it is swapped in or dropped. The server releases it when that
/// connection ends, however the run ends, so a staging copy whose lock can be taken has no live run, whatever
/// machine, container or process loaded it (see ``AbandonedStaging``).
///
/// Advisory locks belong to a database: the claim and the sweep connect to the same one (the server's maintenance
/// database for a staging database, the target database for a staging schema).
struct StagingClaim: Sendable {
    private let session: PGConnection

    /// Lifeboat's class of advisory locks ("LBST"); the other key is a hash of the copy's name, whose rare
    /// collision only keeps a leftover one backup longer.
    private static let lockClass = 0x4C42_5354

    /// The arguments of `pg_try_advisory_lock` for staging copy `name`.
    static func lockKey(_ name: String) -> String { "\(lockClass), hashtext(\(SQL.literal(name)))" }

    /// Takes the claim on `name` through a new connection to `database`.
    /// - Throws: ``LifeboatError`` when another run holds it, or the server cannot be reached.
    static func take(_ name: String, on database: ConnectionInfo) async throws -> StagingClaim {
        let session = try await PGConnection.connect(database, purpose: "staging claim")
        do {
            // The session idles for the whole load: the server must not end it for that.
            if try await session.serverVersion() >= 140000 { try await session.run(["SET idle_session_timeout = 0"]) }
            let taken = try await session.query("SELECT pg_try_advisory_lock(\(lockKey(name)))")
            guard taken.first?.first == "t" else {
                throw LifeboatError(.targetInUse, "staging copy \(name) is claimed by another run")
            }
        } catch {
            await session.close()
            throw error
        }
        return StagingClaim(session: session)
    }

    /// Checks that the claim is still held, before the copy is put in place: a claim whose connection was cut
    /// (by an administrator, a firewall) no longer keeps another run's sweep from dropping the copy.
    /// - Throws: ``LifeboatError`` when the claim's connection has ended.
    func confirm() async throws {
        do {
            _ = try await session.query("SELECT 1")
        } catch {
            throw LifeboatError(
                .targetUnwritable, "the connection holding the claim on the staging copy ended during the load (\(error))",
                cause: error)
        }
    }

    /// Ends the claim; later calls do nothing.
    func release() async { await session.close() }
}
