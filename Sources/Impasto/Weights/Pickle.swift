import Foundation

/// A pickle reader that executes nothing. It runs the subset of the pickle machine that a
/// PyTorch state dict uses and knows only the few globals such a file needs; any other opcode
/// or global is refused. (`torch.load` of an untrusted file can run code; this cannot.)
enum Pickle {
    /// A value on the pickle stack.
    indirect enum Value {
        case none, bool(Bool), int(Int), bigInt([UInt8]), float(Double), string(String)
        case tuple([Value]), list(ListBox), dict(DictBox)
        case global(String)
        case storage(StorageRef)
        case tensor(TensorRef)
    }

    /// Lists and dicts are filled while on top of the stack, before they are nested into
    /// anything (that is how pickle writes them); `depth` is their nesting depth so far.
    final class ListBox { var items: [Value] = []; var depth = 1; var nested = false }
    final class DictBox { var items: [(Value, Value)] = []; var depth = 1; var nested = false }

    /// A state dict nests a handful of levels (dict, tensor record, shape tuple). Deeper values
    /// are refused: freeing a 60,000-level value recurses once per level and overflows the stack.
    static let maxDepth = 32

    /// A torch storage named by a persistent id: its key (file or section name) and length.
    struct StorageRef { let key: String; let dtype: String; let count: Int }

    /// A tensor view on a storage.
    struct TensorRef { let storage: StorageRef; let offset: Int; let shape: [Int]; let stride: [Int] }

    static let allowedGlobals: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
        "torch.FloatStorage",
    ]

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Runs one pickle starting at `offset`; returns its value and the offset after STOP.
    static func load(_ data: Data, at offset: Int = 0, name: String) throws -> (Value, Int) {
        var pos = offset
        var stack: [Value] = []
        var marks: [Int] = []
        var memo: [Int: Value] = [:]
        func fail(_ why: String) -> Failure { Failure(description: "\(name): \(why)") }
        func byte() throws -> UInt8 {
            guard pos < data.count else { throw fail("truncated pickle") }
            defer { pos += 1 }
            return data[data.startIndex + pos]
        }
        func bytes(_ n: Int) throws -> Data {
            guard n >= 0, n <= data.count - pos else { throw fail("truncated pickle") }  // no pos + n: n may be near Int.max
            defer { pos += n }
            return data.subdata(in: (data.startIndex + pos)..<(data.startIndex + pos + n))
        }
        func uint(_ n: Int) throws -> Int {
            let b = try bytes(n)
            return b.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        }
        func pop() throws -> Value {
            guard let v = stack.popLast() else { throw fail("pickle stack underflow") }
            return v
        }
        func popMark() throws -> [Value] {
            guard let m = marks.popLast(), m <= stack.count else { throw fail("pickle MARK missing") }
            defer { stack.removeSubrange(m...) }
            return Array(stack[m...])
        }
        /// The nesting depth of a value (tuples are checked when made, so this recursion is
        /// bounded by maxDepth).
        func depth(_ v: Value) -> Int {
            switch v {
            case .tuple(let items): return 1 + (items.map(depth).max() ?? 0)
            case .list(let l): return l.depth
            case .dict(let d): return d.depth
            default: return 0
            }
        }
        /// `children` are about to be nested one level deeper: refuses too deep a value, and
        /// seals the lists and dicts among them (a later APPEND or SETITEM on one is refused).
        func nest(_ children: [Value]) throws -> Int {
            var d = 1
            for c in children {
                d = max(d, 1 + depth(c))
                if case .list(let l) = c { l.nested = true }
                if case .dict(let x) = c { x.nested = true }
            }
            guard d <= Pickle.maxDepth else { throw fail("pickle nests deeper than \(Pickle.maxDepth) levels; a state dict needs a handful") }
            return d
        }
        func tuple(_ items: [Value]) throws -> Value {
            _ = try nest(items)
            return .tuple(items)
        }
        func addToList(_ items: [Value]) throws {
            guard case .list(let l) = stack.last else { throw fail("APPEND on a non-list") }
            guard !l.nested else { throw fail("pickle appends to a list after nesting it") }
            l.depth = max(l.depth, try nest(items))
            l.items.append(contentsOf: items)
        }
        func addToDict(_ items: [Value]) throws {
            guard case .dict(let d) = stack.last, items.count % 2 == 0 else { throw fail("SETITEMS on a non-dict") }
            guard !d.nested else { throw fail("pickle sets items of a dict after nesting it") }
            d.depth = max(d.depth, try nest(items))
            for i in stride(from: 0, to: items.count, by: 2) { d.items.append((items[i], items[i + 1])) }
        }
        func text(_ d: Data) throws -> String {
            guard let s = String(data: d, encoding: .utf8) else { throw fail("invalid UTF-8 in pickle") }
            return s
        }
        func int(_ v: Value) throws -> Int {
            guard case .int(let i) = v else { throw fail("expected an integer in a tensor record") }
            return i
        }
        func ints(_ v: Value) throws -> [Int] {
            guard case .tuple(let t) = v else { throw fail("expected a tuple of integers in a tensor record") }
            return try t.map(int)
        }

        while true {
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()                       // PROTO
            case 0x95: _ = try bytes(8)                     // FRAME
            case 0x2E:                                      // STOP
                return (try pop(), pos)
            case 0x28: marks.append(stack.count)            // MARK
            case 0x7D: stack.append(.dict(DictBox()))       // EMPTY_DICT
            case 0x5D: stack.append(.list(ListBox()))       // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))             // EMPTY_TUPLE
            case 0x74: stack.append(try tuple(try popMark()))  // TUPLE
            case 0x85: stack.append(try tuple([try pop()]))    // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(try tuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(try tuple([a, b, c]))
            case 0x71, 0x72, 0x94:                          // BINPUT, LONG_BINPUT, MEMOIZE
                let key = op == 0x71 ? try uint(1) : op == 0x72 ? try uint(4) : memo.count
                guard let top = stack.last else { throw fail("pickle stack underflow") }
                guard memo.count < 1_000_000 else { throw fail("pickle memo too large") }
                memo[key] = top
            case 0x68, 0x6A:                                // BINGET, LONG_BINGET
                let key = try uint(op == 0x68 ? 1 : 4)
                guard let v = memo[key] else { throw fail("pickle refers to unknown memo \(key)") }
                stack.append(v)
            case 0x4B: stack.append(.int(try uint(1)))      // BININT1
            case 0x4D: stack.append(.int(try uint(2)))      // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
            case 0x8A:                                      // LONG1
                let n = Int(try byte())
                let b = try bytes(n)
                if n <= 8 {
                    var v = b.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                    if n > 0 && n < 8 && b.last! & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(n)) }  // sign-extend
                    stack.append(.int(Int(Int64(bitPattern: v))))
                } else {
                    stack.append(.bigInt(Array(b)))
                }
            case 0x4E: stack.append(.none)                  // NONE
            case 0x88: stack.append(.bool(true))            // NEWTRUE
            case 0x89: stack.append(.bool(false))           // NEWFALSE
            case 0x47:                                      // BINFLOAT (big-endian)
                let b = try bytes(8)
                stack.append(.float(Double(bitPattern: b.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })))
            case 0x58: stack.append(.string(try text(try bytes(try uint(4)))))   // BINUNICODE
            case 0x8C: stack.append(.string(try text(try bytes(try uint(1)))))   // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try text(try bytes(try uint(8)))))   // BINUNICODE8
            case 0x55: stack.append(.string(try text(try bytes(try uint(1)))))   // SHORT_BINSTRING
            case 0x54: stack.append(.string(try text(try bytes(try uint(4)))))   // BINSTRING
            case 0x63:                                      // GLOBAL "module\nname\n"
                var line: [UInt8] = [], parts: [String] = []
                while parts.count < 2 {
                    let b = try byte()
                    if b == 0x0A { parts.append(String(decoding: line, as: UTF8.self)); line = [] } else { line.append(b) }
                    if line.count > 256 { throw fail("malformed GLOBAL") }
                }
                try pushGlobal(parts[0] + "." + parts[1])
            case 0x93:                                      // STACK_GLOBAL
                guard case .string(let n) = try pop(), case .string(let m) = try pop() else { throw fail("malformed STACK_GLOBAL") }
                try pushGlobal(m + "." + n)
            case 0x51:                                      // BINPERSID
                stack.append(try persistent(try pop()))
            case 0x52:                                      // REDUCE
                let args = try pop(), callable = try pop()
                stack.append(try reduce(callable, args))
            case 0x62:                                      // BUILD: state on an OrderedDict (_metadata) or tensor
                _ = try pop()
                guard stack.last != nil else { throw fail("pickle stack underflow") }
            case 0x73:                                      // SETITEM
                let v = try pop(), k = try pop()
                try addToDict([k, v])
            case 0x75:                                      // SETITEMS
                try addToDict(try popMark())
            case 0x61:                                      // APPEND
                try addToList([try pop()])
            case 0x65:                                      // APPENDS
                try addToList(try popMark())
            default:
                throw fail(String(format: "pickle opcode 0x%02X is not allowed in a weights file", op))
            }
            if stack.count > 100_000 || marks.count > 100_000 { throw fail("pickle stack too deep") }
        }

        func pushGlobal(_ qualified: String) throws {
            guard allowedGlobals.contains(qualified) else {
                throw fail("refusing the global \(qualified): a state dict of tensors never needs it (this file could run code under torch.load)")
            }
            stack.append(.global(qualified))
        }

        func persistent(_ pid: Value) throws -> Value {
            // ('storage', storage_type, key, location, numel[, view_metadata])
            guard case .tuple(let t) = pid, t.count >= 5, case .string("storage") = t[0],
                  case .global(let type) = t[1], case .string(let key) = t[2], case .int(let count) = t[4], count >= 0 else {
                throw fail("unsupported persistent id in pickle")
            }
            guard type == "torch.FloatStorage" else { throw fail("storage type \(type) is not float32") }
            return .storage(StorageRef(key: key, dtype: "float32", count: count))
        }

        func reduce(_ callable: Value, _ args: Value) throws -> Value {
            guard case .global(let name) = callable, case .tuple(let a) = args else { throw fail("REDUCE of a non-global") }
            switch name {
            case "collections.OrderedDict":
                let d = DictBox()
                if case .list(let pairs)? = a.first {
                    for case .tuple(let kv) in pairs.items where kv.count == 2 { d.items.append((kv[0], kv[1])) }
                    d.depth = max(1, try nest(pairs.items))
                }
                return .dict(d)
            case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
                guard a.count >= 4, case .storage(let s) = a[0] else { throw fail("malformed tensor record") }
                return .tensor(TensorRef(storage: s, offset: try int(a[1]), shape: try ints(a[2]), stride: try ints(a[3])))
            default:
                throw fail("REDUCE of \(name) is not allowed")
            }
        }
    }
}
