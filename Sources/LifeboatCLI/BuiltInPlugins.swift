import LifeboatCore
import LifeboatExecSink
import LifeboatLocalSink
import LifeboatPostgres
import LifeboatS3Sink
import LifeboatZstd

extension PluginRegistry {
    /// The plugins that ship with Lifeboat: PostgreSQL source, restore destination and replica target, local folder, S3 and external-program targets, zstd.
    public static let builtIn = PluginRegistry()
        .registering(source: "postgresql") { try PostgresSource(config: $0) }
        .registering(source: "postgres") { try PostgresSource(config: $0) }
        .registering(destination: "postgresql") { try PostgresDestination(url: $0, options: $1) }
        .registering(destination: "postgres") { try PostgresDestination(url: $0, options: $1) }
        .registering(sink: "file") { try LocalSink(target: $0) }
        .registering(sink: "s3") { try S3Sink(target: $0) }
        .registering(sink: "exec") { try ExecSink(target: $0) }
        .registering(sink: "postgresql") { try ReplicaSink(target: $0) }
        .registering(sink: "postgres") { try ReplicaSink(target: $0) }
        .registering(codec: "zstd") { try ZstdCodec(config: $0) }
}
