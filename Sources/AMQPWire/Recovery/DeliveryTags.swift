/// Delivery tags as the application sees them: the broker's tag on the current connection plus
/// the tags the channel's earlier connections used, so tags keep increasing across a recovery
/// and an old one is never mistaken for a new one.
enum DeliveryTags {
    /// The application's tag for `brokerTag`. Saturates instead of overflowing: a broker that
    /// sends a tag near `UInt64.max` after a recovery gets an unknown tag back in the ack (and
    /// closes the channel), where plain addition would have crashed the process.
    static func application(_ brokerTag: UInt64, offset: UInt64) -> UInt64 {
        let (sum, overflow) = brokerTag.addingReportingOverflow(offset)
        return overflow ? .max : sum
    }
}
