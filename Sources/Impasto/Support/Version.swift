/// This build's version: `impasto --version`, and part of every batch job's key (a new
/// version may paint differently, so its results are not taken for an older one's).
public enum ImpastoVersion {
    public static let current = "0.9.0"
}
