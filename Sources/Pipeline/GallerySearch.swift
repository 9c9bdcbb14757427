import Foundation
import ImageIO
import Tensor

/// CLIP embeddings of a folder's PNGs, cached in `FOLDER/.phosphor-clip-index.jsonl` (one line per image: file,
/// size, modification time, unit embedding of the whole image and of its `CLIPScorer.regions`) and brought up to
/// date incrementally: new or changed images are embedded,
/// vanished ones dropped; the file is rewritten atomically and is safe to delete. Ranks images by a text query or by
/// similarity to an image ("more like this").
public struct GalleryIndex {
    public struct Entry: Codable, Equatable {
        public var file: String
        public var size: Int
        public var mtime: Double
        public var embedding: [Float]
        /// Embeddings of `CLIPScorer.regions` (absent in indexes written before regions: those images are re-embedded).
        public var regions: [[Float]]?
        /// The CLIP folder that made the embeddings (another CLIP re-embeds the image).
        public var model: String?
    }

    public let folder: String
    public private(set) var entries: [String: Entry] = [:]
    public static let fileName = ".phosphor-clip-index.jsonl"
    public var path: String { folder + "/" + Self.fileName }

    /// Reads the cached index (a missing or unreadable file, or a line that does not parse, is just not cached).
    public init(folder: String) {
        self.folder = folder
        guard let text = try? String(contentsOfFile: folder + "/" + Self.fileName, encoding: .utf8) else { return }
        for line in text.split(separator: "\n") {
            if let e = try? JSONDecoder().decode(Entry.self, from: Data(line.utf8)) { entries[e.file] = e }
        }
    }

    /// Embeds what is new or changed and forgets what is gone; returns how many images were embedded.
    @discardableResult
    public mutating func update(with scorer: CLIPScorer) throws -> Int {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).filter {
            $0.lowercased().hasSuffix(".png") && !$0.hasPrefix(".") && !$0.hasSuffix(".mask.png")
        }
        var embedded = 0
        var next: [String: Entry] = [:]
        for name in names.sorted() {
            let attributes = try? fm.attributesOfItem(atPath: folder + "/" + name)
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
            let mtime = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            if let old = entries[name], old.size == size, old.mtime == mtime, old.regions?.count == CLIPScorer.regions.count,
               old.model == scorer.folder {
                next[name] = old
                continue
            }
            // An image that does not decode is left out (and retried next time).
            guard let rgb = try? PNG.read(path: folder + "/" + name).rgb8() else { continue }
            let (whole, regions) = try scorer.embeddings(rgb)
            next[name] = Entry(file: name, size: size, mtime: mtime, embedding: whole, regions: regions, model: scorer.folder)
            embedded += 1
        }
        let changed = embedded > 0 || next.count != entries.count
        entries = next
        if changed { try save() }
        return embedded
    }

    func save() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var data = Data()
        for key in entries.keys.sorted() { data += try encoder.encode(entries[key]!) + [0x0A] }
        try AtomicFile.write([UInt8](data), to: path, overwrite: true)
    }

    /// Images by cosine similarity to a unit embedding, best first (100 · cosine, as CLIP scores): of the whole image,
    /// or with `regions` the best of the whole image and its regions (text queries: a query names what a region shows).
    public func ranked(by embedding: [Float], regions: Bool = false, excluding: String? = nil) -> [(file: String, score: Float)] {
        entries.values.filter { $0.file != excluding }
            .map { e in (e.file, 100 * ((regions ? e.regions ?? [] : []) + [e.embedding]).map { cosine($0, embedding) }.max()!) }
            .sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
    }

    /// "More like this": images by region matching to a query image's embeddings (whole image first, then its regions):
    /// for each query embedding the best cosine among the image's, averaged (100 · that). On the search evaluation
    /// the share of the top 5 that share a coloured shape with the query rose from 0.37 (whole images) to 0.43.
    public func ranked(like query: [[Float]], excluding: String? = nil) -> [(file: String, score: Float)] {
        entries.values.filter { $0.file != excluding }
            .map { e in
                let own = [e.embedding] + (e.regions ?? [])
                let total = query.reduce(Float(0)) { sum, q in sum + own.map { cosine(q, $0) }.max()! }
                return (e.file, 100 * total / Float(max(query.count, 1)))
            }
            .sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
    }
}

/// Cosine of two unit embeddings (their dot product).
private func cosine(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
