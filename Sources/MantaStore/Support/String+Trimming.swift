extension String {
    /// The string without leading and trailing whitespace and newlines: what a one-line file holds.
    public var trimmingWhitespace: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
