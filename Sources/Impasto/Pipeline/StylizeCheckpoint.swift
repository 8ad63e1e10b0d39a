import Foundation

/// A run's state after an iteration: what it needs to go on and end with the same bits as a
/// run that never stopped (on the same device): where it is (scale, iterations done over all
/// scales and at this one), the loss weights it balanced to, X, the optimiser's state and the
/// iterates' average when the run keeps one.
/// `tag` says which run it belongs to (`impasto` uses the job's key); a resume checks it.
public struct StylizeCheckpoint {
    public let tag: String
    public let scale, iteration, step: Int
    public let weights: LossWeights
    public let width, height: Int
    public let x: [Float]
    package let optimizer: OptimizerSnapshot
    /// `--average-iterates`: the scale's running mean and its updates so far.
    package var average: Average? = nil

    package struct Average {
        let mean: [Float]
        let steps: Int
    }

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
        guard scale >= 0, scale < request.sizes.count, request.sizes[scale] == (width, height), (0...request.iterations[scale]).contains(step),
              x.count == 3 * width * height else {
            throw StyleTransferError("the checkpoint does not fit this run's schedule")
        }
        switch (optimizer, request.optimizer) {
        case (.adam, .adam): break
        case (.lbfgs(let s), .lbfgs(let history)) where s.history == history: break
        default: throw StyleTransferError("the checkpoint holds another optimiser's state")
        }
        guard (average == nil) == (request.averaging == nil), average.map({ $0.mean.count == x.count && $0.steps <= step }) ?? true else {
            throw StyleTransferError("the checkpoint was taken with other iterate averaging")
        }
    }

    // MARK: file

    /// The file: a magic line, a JSON line of the scalars, the float arrays (little endian) in
    /// the order `arrays` lists them, then the SHA-256 of everything before it (64 hex digits):
    /// a flipped bit is found, not resumed into another picture. Written to a temporary name
    /// and renamed. Version 2 added the checksum: a version-1 file is refused (its run starts
    /// afresh once the file is removed).
    static let magic = "impasto checkpoint 2\n"
    /// The longest header line read: a header is a few hundred bytes plus 12 per L-BFGS pair.
    static let maxHeaderBytes = 1 << 20
    /// Pictures past this many pixels are not ones impasto can have stylized.
    static let maxPixels = 1 << 28

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
        let averageSteps: Int?

        /// The arrays the header announces, or nil when a number is out of range (so no
        /// arithmetic below can overflow and no count is negative).
        var arrayCount: Int? {
            guard (1...65536).contains(width), (1...65536).contains(height), width * height <= StylizeCheckpoint.maxPixels,
                  (0..<16).contains(scale), step >= 0, iteration >= step, iteration <= 1 << 30,
                  weights.count == 3, weights.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 1e20 }) else { return nil }
            if let s = averageSteps, !(0...step).contains(s) { return nil }
            let average = averageSteps == nil ? 0 : 1
            switch optimizer {
            case "adam":
                guard let steps = adamSteps, (0...(1 << 30)).contains(steps) else { return nil }
                return 3 + average
            case "lbfgs":
                guard let history = lbfgsHistory, (1...10_000).contains(history), let pairs = lbfgsPairs, (0...history).contains(pairs),
                      let rho = lbfgsRho, rho.count == pairs, rho.allSatisfy(\.isFinite),
                      let hDiag = lbfgsHDiag, hDiag.isFinite, let t = lbfgsT, t.isFinite, lbfgsFirst != nil else { return nil }
                return 1 + 2 * pairs + 2 + average
            default: return nil
            }
        }
    }

    private var arrays: [[Float]] {
        switch optimizer {
        case .adam(let m, let v, _): return [x, m, v] + (average.map { [$0.mean] } ?? [])
        case .lbfgs(let s): return [x] + s.arrays + (average.map { [$0.mean] } ?? [])
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
                            lbfgsRho: lbfgs?.pairs.map(\.rho), lbfgsHDiag: lbfgs?.hDiag, lbfgsT: lbfgs?.t, lbfgsFirst: lbfgs?.first,
                            averageSteps: average?.steps)
        var data = Data(Self.magic.utf8)
        data.append(try JSONEncoder().encode(header))
        data.append(Data("\n".utf8))
        for a in arrays { a.withUnsafeBytes { data.append(contentsOf: $0) } }
        var digest = SHA256()
        digest.update(data)
        data.append(Data(digest.finalize().utf8))
        do { try data.write(to: url, options: .atomic) } catch {
            throw FileError("cannot write the checkpoint \(InputFile.display(url.path)): \(ErrorText.describe(error))")
        }
    }

    /// Reads and checks a checkpoint: the header first (bounded), every number in range, the
    /// file exactly as long as the header says, the arrays' checksum, and every value finite.
    /// A damaged or foreign file is a one-line error, never a trap.
    public static func read(from url: URL) throws -> StylizeCheckpoint {
        let file = try InputFile.Reader(url.path)
        let name = InputFile.display(url.path)
        let bad = FileError("\(name) is not an impasto checkpoint of this version (or is damaged); remove it to start afresh")
        let head = try file.read(at: 0, count: min(file.size, magic.utf8.count + maxHeaderBytes))
        guard head.starts(with: Data(magic.utf8)), let end = head[magic.utf8.count...].firstIndex(of: UInt8(ascii: "\n")),
              let header = try? JSONDecoder().decode(Header.self, from: head[magic.utf8.count..<end]),
              let arrays = header.arrayCount else { throw bad }
        let n = 3 * header.width * header.height
        let bodyBytes = 4 * n * arrays, total = end + 1 + bodyBytes + 64
        guard file.size == total else {
            throw FileError("\(name) is \(file.size) bytes, not the \(total) its header announces (truncated or damaged); remove it to start afresh")
        }
        let whole = try file.read(at: 0, count: total)
        var digest = SHA256()
        digest.update(whole.prefix(total - 64))
        guard Data(digest.finalize().utf8) == whole.suffix(64) else {
            throw FileError("\(name) is damaged (its checksum does not match its contents); remove it to start afresh")
        }
        let values = whole[(end + 1)..<(end + 1 + bodyBytes)].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        guard values.allSatisfy(\.isFinite) else { throw FileError("\(name) holds values that are not finite numbers; remove it to start afresh") }
        var offset = 0
        func floats() -> [Float] {
            defer { offset += n }
            return Array(values[offset..<(offset + n)])
        }
        let x = floats()
        let optimizer: OptimizerSnapshot
        if header.optimizer == "adam" {
            let m = floats(), v = floats()
            guard v.allSatisfy({ $0 >= 0 }) else { throw bad }
            optimizer = .adam(m: m, v: v, steps: header.adamSteps!)
        } else {
            let rho = header.lbfgsRho!
            let pairs = (0..<rho.count).map { (step: floats(), change: floats(), rho: rho[$0]) }
            optimizer = .lbfgs(LBFGS.State(history: header.lbfgsHistory!, pairs: pairs, hDiag: header.lbfgsHDiag!, t: header.lbfgsT!,
                                           first: header.lbfgsFirst!, direction: floats(), previousGrad: floats()))
        }
        let average = header.averageSteps.map { Average(mean: floats(), steps: $0) }
        return StylizeCheckpoint(tag: header.tag, scale: header.scale, iteration: header.iteration, step: header.step,
                                 weights: LossWeights(content: header.weights[0], style: header.weights[1], tv: header.weights[2]),
                                 width: header.width, height: header.height, x: x, optimizer: optimizer, average: average)
    }
}
