import Foundation

/// Which share of a batch this process runs: shard `index` of `count`. A job belongs to the
/// shard its key (a SHA-256) gives modulo `count`, so reordering or extending a manifest
/// moves no other job, and the shards of one manifest are disjoint and cover it.
public struct BatchShard: Equatable, Sendable {
    public let index, count: Int

    public init(index: Int, count: Int) { (self.index, self.count) = (index, count) }

    public static let all = BatchShard(index: 0, count: 1)

    public func contains(key: String) -> Bool {
        count == 1 || Int((UInt64(key.prefix(15), radix: 16) ?? 0) % UInt64(count)) == index
    }

    /// `text` (K/N); else Slurm's array variables; else an index from Kubernetes' Indexed Jobs
    /// or AWS Batch array jobs with `shards` giving N; else everything. Errors name the field
    /// `shard` or `shards`.
    public static func resolve(_ text: String?, shards: Int?, environment env: [String: String]) throws -> BatchShard {
        func make(_ k: Int?, _ n: Int?, _ source: String) throws -> BatchShard {
            guard let k, let n, n >= 1, (0..<n).contains(k) else {
                throw SettingError("shard", "\(source) does not name a shard K of N with 0 <= K < N")
            }
            return BatchShard(index: k, count: n)
        }
        if let text {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            return try make(parts.count == 2 ? Int(parts[0]) : nil, parts.count == 2 ? Int(parts[1]) : nil, "'\(text)'")
        }
        if let n = shards, n < 1 { throw SettingError("shards", "must be at least 1") }
        if let task = env["SLURM_ARRAY_TASK_ID"], !task.isEmpty {
            // Slurm numbers array tasks from SLURM_ARRAY_TASK_MIN (0 in impasto's sbatch file).
            let low = Int(env["SLURM_ARRAY_TASK_MIN"] ?? "0") ?? 0
            let n = shards ?? env["SLURM_ARRAY_TASK_COUNT"].flatMap { Int($0) }
            let k = Int(task).flatMap { id -> Int? in
                let (d, overflow) = id.subtractingReportingOverflow(low)
                return overflow ? nil : d
            }
            return try make(k, n, "SLURM_ARRAY_TASK_ID=\(task) (SLURM_ARRAY_TASK_MIN=\(low)) of SLURM_ARRAY_TASK_COUNT")
        }
        for name in ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"] {
            if let index = env[name], !index.isEmpty {
                guard let shards else { throw SettingError("shards", "is needed: \(name) is set, and the number of indices must be given with it") }
                return try make(Int(index), shards, "\(name)=\(index) with \(shards) shards")
            }
        }
        if let shards, shards > 1 {
            throw SettingError("shards", "\(shards) needs this process's index: a shard K/\(shards), or JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX or SLURM_ARRAY_TASK_ID set")
        }
        return .all
    }
}
