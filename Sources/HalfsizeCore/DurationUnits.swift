extension Duration {
    /// Whole milliseconds, rounded down; negative durations are 0 (a TTL, a delay).
    public var inMilliseconds: Int {
        let (seconds, attoseconds) = components
        return max(0, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }

    /// Seconds as a decimal number, for SQL intervals and logs.
    public var inSeconds: Double { Double(inMilliseconds) / 1000 }
}
