import Foundation

/// A run's state after an iteration: what it needs to go on and end with the same bits as a
/// run that never stopped (on the same device): where it is (scale, iterations done over all
/// scales and at this one), the loss weights it balanced to, X and the optimiser's state.
/// `tag` says which run it belongs to (`impasto` uses the job's key); a resume checks it.
public struct StylizeCheckpoint {
    public let tag: String
    public let scale, iteration, step: Int
    public let weights: (content: Float, style: Float, tv: Float)
    public let width, height: Int
    public let x: [Float]
    public let optimizer: OptimizerSnapshot

    /// What the run does with checkpoints: resumes `resume` (its tag must be `tag`), and hands
    /// one to `save` every `every` iterations and when it is stopped.
    public struct Policy {
        public var tag: String
        public var every: Int?
        public var resume: StylizeCheckpoint?
        public var save: (StylizeCheckpoint) throws -> Void
        public init(tag: String, every: Int? = nil, resume: StylizeCheckpoint? = nil, save: @escaping (StylizeCheckpoint) throws -> Void) {
            (self.tag, self.every, self.resume, self.save) = (tag, every, resume, save)
        }
    }

    /// Checks that this checkpoint continues `request` under `tag`.
    func check(_ request: StylizeRequest, tag expected: String) throws {
        guard tag == expected else {
            throw StyleTransferError("the checkpoint belongs to another run (other inputs, options, version or weights); remove it to start afresh")
        }
        guard scale < request.sizes.count, request.sizes[scale] == (width, height), (0...request.iterations[scale]).contains(step),
              x.count == 3 * width * height else {
            throw StyleTransferError("the checkpoint does not fit this run's schedule")
        }
        switch (optimizer, request.optimizer) {
        case (.adam, .adam): break
        case (.lbfgs(let s), .lbfgs(let history)) where s.history == history: break
        default: throw StyleTransferError("the checkpoint holds another optimiser's state")
        }
    }

    // MARK: file

    /// The file: a magic line, a JSON line of the scalars, then the float arrays (little
    /// endian) in the order `arrays` lists them. Written to a temporary name and renamed.
    static let magic = "impasto checkpoint 1\n"

    struct Header: Codable {
        let tag: String
        let scale, iteration, step, width, height: Int
        let weights: [Float]
        let optimizer: String  // adam or lbfgs
        let adamSteps: Int?
        let lbfgsHistory, lbfgsPairs: Int?
        let lbfgsRho: [Float]?
        let lbfgsHDiag, lbfgsT: Float?
        let lbfgsFirst: Bool?
    }

    private var arrays: [[Float]] {
        switch optimizer {
        case .adam(let m, let v, _): return [x, m, v]
        case .lbfgs(let s): return [x] + s.arrays
        }
    }

    public func write(to url: URL) throws {
        var adamSteps: Int?, lbfgs: LBFGS.State?
        switch optimizer {
        case .adam(_, _, let steps): adamSteps = steps
        case .lbfgs(let state): lbfgs = state
        }
        let header = Header(tag: tag, scale: scale, iteration: iteration, step: step, width: width, height: height,
                            weights: [weights.content, weights.style, weights.tv], optimizer: lbfgs == nil ? "adam" : "lbfgs",
                            adamSteps: adamSteps, lbfgsHistory: lbfgs?.history, lbfgsPairs: lbfgs?.pairs.count,
                            lbfgsRho: lbfgs?.pairs.map(\.rho), lbfgsHDiag: lbfgs?.hDiag, lbfgsT: lbfgs?.t, lbfgsFirst: lbfgs?.first)
        var data = Data(Self.magic.utf8)
        data.append(try JSONEncoder().encode(header))
        data.append(Data("\n".utf8))
        for a in arrays { a.withUnsafeBytes { data.append(contentsOf: $0) } }
        do { try data.write(to: url, options: .atomic) } catch {
            throw FileError("cannot write the checkpoint \(InputFile.display(url.path)): \(error.localizedDescription)")
        }
    }

    public static func read(from url: URL) throws -> StylizeCheckpoint {
        let data = try InputFile.read(url.path, maxBytes: 1 << 40)
        let bad = FileError("\(InputFile.display(url.path)) is not an impasto checkpoint (or is damaged)")
        guard data.starts(with: Data(magic.utf8)), let end = data[magic.utf8.count...].firstIndex(of: UInt8(ascii: "\n")),
              let header = try? JSONDecoder().decode(Header.self, from: data[magic.utf8.count..<end]) else { throw bad }
        var offset = end + 1
        let n = 3 * header.width * header.height
        func floats() throws -> [Float] {
            guard n > 0, offset + 4 * n <= data.count else { throw bad }
            let a = data[offset..<(offset + 4 * n)].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            offset += 4 * n
            return a
        }
        let x = try floats()
        let optimizer: OptimizerSnapshot
        switch header.optimizer {
        case "adam":
            guard let steps = header.adamSteps else { throw bad }
            optimizer = .adam(m: try floats(), v: try floats(), steps: steps)
        case "lbfgs":
            guard let history = header.lbfgsHistory, let count = header.lbfgsPairs, let rho = header.lbfgsRho, rho.count == count,
                  let hDiag = header.lbfgsHDiag, let t = header.lbfgsT, let first = header.lbfgsFirst else { throw bad }
            let pairs = try (0..<count).map { (step: try floats(), change: try floats(), rho: rho[$0]) }
            optimizer = .lbfgs(LBFGS.State(history: history, pairs: pairs, hDiag: hDiag, t: t, first: first,
                                           direction: try floats(), previousGrad: try floats()))
        default: throw bad
        }
        guard offset == data.count, header.weights.count == 3 else { throw bad }
        return StylizeCheckpoint(tag: header.tag, scale: header.scale, iteration: header.iteration, step: header.step,
                                 weights: (header.weights[0], header.weights[1], header.weights[2]),
                                 width: header.width, height: header.height, x: x, optimizer: optimizer)
    }
}
