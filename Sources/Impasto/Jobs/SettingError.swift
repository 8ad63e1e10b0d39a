import Foundation

/// A setting that cannot be used, named by its field (`StylizeSettings`' property names, such
/// as `styleWeight`, `size`, `scaleIterations`; a video's `VideoSettings` names, a batch's
/// `shard`): thrown before any work, so a caller can point at what to change. The command-line
/// tool turns `field` into its option (`styleWeight` → `--style-weight`).
public struct SettingError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The field, or nil when the problem is of several together.
    public let field: String?
    /// What is wrong, in words that follow the field's name ("must be a positive number").
    public let problem: String

    public init(_ field: String?, _ problem: String) { (self.field, self.problem) = (field, problem) }

    public var description: String { field.map { "\($0) \(problem)" } ?? problem }

    /// The message with the field shown as `name(field)` (a command-line option, say).
    public func described(naming name: (String) -> String) -> String { field.map { "\(name($0)) \(problem)" } ?? problem }
}
