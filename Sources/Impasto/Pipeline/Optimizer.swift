/// What moves X each iteration. Both evaluate the objective once per step; what they carry
/// from one scale of a coarse-to-fine run to the next is `carried` (Adam's moments, resized;
/// L-BFGS starts each scale afresh, its history being of the last scale's size).
public protocol Optimizer: AnyObject {
    /// One evaluation and one move of X at `rate`; the losses before the move, and the rate
    /// actually used (L-BFGS scales its first step).
    func step(rate: Double) throws -> (LossTerms, Double)
    /// Device memory this optimiser holds beyond the model's.
    var deviceBytes: Int { get }
    /// What the next scale starts from (nil: nothing).
    func carried() throws -> AdamState?
    /// Continues from a previous scale's `carried` state.
    func resume(_ state: AdamState) throws
}

/// The seed's Adam, whose moments live with X in the model (`OptimizedImage`).
public final class AdamOptimizer: Optimizer {
    let model: Stylizer
    public init(model: Stylizer) { self.model = model }
    public func step(rate: Double) throws -> (LossTerms, Double) { (try model.step(lr: Float(rate)), rate) }
    public var deviceBytes: Int { 0 }  // counted in the model's (OptimizedImage)
    public func carried() throws -> AdamState? { try model.adamState() }
    public func resume(_ state: AdamState) throws { try model.restoreAdam(state) }
}

/// neural-style's L-BFGS (see `LBFGS`).
public final class LBFGSOptimizer: Optimizer {
    let lbfgs: LBFGS
    let history: Int
    let pixels: Int
    public init(model: Stylizer, history: Int) throws {
        lbfgs = try LBFGS(model: model, history: history)
        self.history = history
        pixels = model.pixelCount
    }

    /// Device bytes of the history and work vectors for an image of `pixels` values.
    public static func bytes(history: Int, pixels: Int) -> Int { (2 * history + 5) * pixels * 4 }

    public func step(rate: Double) throws -> (LossTerms, Double) {
        let (terms, used) = try lbfgs.step(lr: Float(rate))
        return (terms, Double(used))
    }
    public var deviceBytes: Int { Self.bytes(history: history, pixels: pixels) }
    public func carried() throws -> AdamState? { nil }
    public func resume(_ state: AdamState) throws {}
}
