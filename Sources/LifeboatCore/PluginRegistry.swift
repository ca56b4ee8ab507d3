/// Options for a restore destination.
public struct DestinationOptions: Sendable {
    /// How many tables load at once.
    public var jobs: Int
    /// The folder holding the database's client tools; `nil` searches `PATH`.
    public var toolDirectory: String?
    /// Skip restoring object ownership (for a target without the original roles).
    public var noOwner: Bool

    /// Creates options.
    public init(jobs: Int, toolDirectory: String?, noOwner: Bool) {
        self.jobs = jobs
        self.toolDirectory = toolDirectory
        self.noOwner = noOwner
    }
}

/// Maps URL schemes to the plugins that handle them.
///
/// The registry is a value: the CLI builds one with the built-in plugins, and a custom binary adds its own with
/// ``registering(sink:_:)``. Core never imports a plugin.
public struct PluginRegistry: Sendable {
    /// Makes a source from the `source:` configuration.
    public typealias SourceFactory = @Sendable (SourceConfig) throws -> any Source
    /// Makes a sink from one `targets:` entry.
    public typealias SinkFactory = @Sendable (TargetConfig) throws -> any Sink
    /// Makes a restore destination from a database URL.
    public typealias DestinationFactory = @Sendable (String, DestinationOptions) throws -> any RestoreDestination
    /// Makes a codec from a target's `compression:` setting.
    public typealias CodecFactory = @Sendable (CompressionConfig) throws -> any StreamCodec

    private var sources: [String: SourceFactory] = [:]
    private var sinks: [String: SinkFactory] = [:]
    private var destinations: [String: DestinationFactory] = [:]
    private var codecs: [String: CodecFactory] = [:]

    /// An empty registry.
    public init() {}

    /// A copy that handles sources with URL scheme `scheme`.
    public func registering(source scheme: String, _ factory: @escaping SourceFactory) -> Self {
        precondition(sources[scheme] == nil, "source scheme '\(scheme)' registered twice")
        var copy = self
        copy.sources[scheme] = factory
        return copy
    }

    /// A copy that handles targets with URL scheme `scheme` (`file` also takes plain paths).
    public func registering(sink scheme: String, _ factory: @escaping SinkFactory) -> Self {
        precondition(sinks[scheme] == nil, "sink scheme '\(scheme)' registered twice")
        var copy = self
        copy.sinks[scheme] = factory
        return copy
    }

    /// A copy that restores into databases with URL scheme `scheme`.
    public func registering(destination scheme: String, _ factory: @escaping DestinationFactory) -> Self {
        precondition(destinations[scheme] == nil, "destination scheme '\(scheme)' registered twice")
        var copy = self
        copy.destinations[scheme] = factory
        return copy
    }

    /// A copy that encodes artifacts with the codec named `name` (e.g. `zstd`).
    public func registering(codec name: String, _ factory: @escaping CodecFactory) -> Self {
        precondition(codecs[name] == nil && name != "none", "codec '\(name)' registered twice")
        var copy = self
        copy.codecs[name] = factory
        return copy
    }

    /// The codec of a `compression:` setting; `nil` for `none`.
    public func makeCodec(_ config: CompressionConfig) throws -> (any StreamCodec)? {
        guard config.codec != "none" else { return nil }
        guard let factory = codecs[config.codec] else {
            throw LifeboatError(
                .configInvalid,
                "compression '\(config.codec)' is unknown; known: "
                    + (["none"] + codecs.keys.sorted()).joined(separator: ", "))
        }
        return try factory(config)
    }

    /// A decoder for artifacts a manifest says were stored with codec `name`.
    public func makeDecoder(codec name: String) throws -> (any StreamDecoder)? {
        guard name != "none" else { return nil }
        guard let factory = codecs[name] else {
            throw LifeboatError(
                .configInvalid, "the backup uses codec '\(name)', which this Lifeboat build cannot read")
        }
        return try factory(CompressionConfig(codec: name)).makeDecoder()
    }

    /// Makes the configured source.
    public func makeSource(_ config: SourceConfig) throws -> any Source {
        let url = try config.requireURL()
        return try lookup(sources, url, "source.url")(config)
    }

    /// Makes the sink for a target.
    public func makeSink(_ target: TargetConfig) throws -> any Sink {
        try lookup(sinks, target.url, "target '\(target.name)'")(target)
    }

    /// Makes the destination for `--into`.
    public func makeDestination(_ url: String, options: DestinationOptions) throws -> any RestoreDestination {
        try lookup(destinations, url, "--into")(url, options)
    }

    /// The scheme of `url`: the part before `://`, lowercased, or `file` for a plain path.
    public static func scheme(of url: String) -> String {
        guard let range = url.range(of: "://") else { return "file" }
        return url[..<range.lowerBound].lowercased()
    }

    private func lookup<F>(_ table: [String: F], _ url: String, _ place: String) throws -> F {
        let scheme = Self.scheme(of: url)
        guard let factory = table[scheme] else {
            throw LifeboatError(
                .configInvalid,
                "\(place) uses scheme '\(scheme)', which no plugin handles; known: "
                    + table.keys.sorted().joined(separator: ", "))
        }
        return factory
    }
}
