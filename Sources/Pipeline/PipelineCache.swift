import Foundation

extension Pipeline {
    /// The model at `path`, loaded once per process: loading the same model again (same path and tokenizer, file or
    /// model_index.json unchanged since) returns the same pipeline, whose weights stay memory-mapped.
    public static func cached(model path: String, mergesFile: String) throws -> Pipeline {
        try PipelineCache.shared.pipeline(model: path, mergesFile: mergesFile)
    }
}

final class PipelineCache: @unchecked Sendable {
    static let shared = PipelineCache()
    private let lock = NSLock()
    private var entries: [String: (stamp: Date?, pipeline: Pipeline)] = [:]

    func pipeline(model path: String, mergesFile: String) throws -> Pipeline {
        let resolved = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        let key = resolved + "\u{0}" + mergesFile
        let stamp = Self.stamp(resolved)
        lock.lock()
        if let hit = entries[key], hit.stamp == stamp {
            lock.unlock()
            return hit.pipeline
        }
        lock.unlock()
        let pipeline = try Pipeline(model: path, mergesFile: mergesFile)
        lock.lock()
        entries[key] = (stamp, pipeline)
        lock.unlock()
        return pipeline
    }

    /// When the model last changed: the file's modification date, or a folder's model_index.json's.
    static func stamp(_ path: String) -> Date? {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { return nil }
        let probe = isFolder.boolValue ? path + "/model_index.json" : path
        return (try? FileManager.default.attributesOfItem(atPath: probe))?[.modificationDate] as? Date
    }
}
