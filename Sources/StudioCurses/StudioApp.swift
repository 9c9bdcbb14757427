import CNCurses
import Foundation
import Pipeline
import Studio
import TerminalGraphics

/// What the runtime needs from the rest of Phosphor to make an image: run the request (calling `progress` per step,
/// which returns false to cancel) and return the written PNG's path and pixels.
/// `progress(step, steps, preview)` may carry a preview of the image so far.
public typealias ImageMaker = (_ request: GenerationRequest, _ progress: @escaping (Int, Int, Canvas?) -> Bool) throws -> (path: String, image: Canvas)

/// Raised by an ImageMaker when `progress` asked it to stop.
public struct GenerationCancelled: Error { public init() {} }

/// The studio's event loop: keys and worker messages → update → effects; view → terminal. Generation runs on a
/// worker thread so keys keep echoing while a U-Net step runs; Escape cancels within one step.
public final class StudioApp {
    let inbox = Inbox()
    let cancelFlag = Flag()

    public init() {}

    public func run(_ initial: StudioModel, depth: ColorDepth?, graphics: GraphicsMode? = nil, make: @escaping ImageMaker,
                    loadGallery: @escaping () -> [GalleryItem], trash: @escaping (String) -> String?,
                    remember: @escaping (String) -> Void, saveMask: @escaping (String, Canvas) -> String?,
                    loadMask: @escaping (_ path: String, _ width: Int, _ height: Int) throws -> Canvas?,
                    searchGallery: @escaping (String) throws -> [String] = { _ in [] },
                    loadModel: @escaping (String) throws -> (name: String, defaults: ModelDefaults),
                    countTokens: @escaping (String) -> (used: Int, capacity: Int)?) {
        let terminal = Terminal(depth: depth, graphics: graphics)
        let uiThread = ThreadPriority.currentThreadID()
        defer { terminal.close() }
        var model = initial
        _ = update(&model, .resize(width: terminal.width, height: terminal.height))
        var counted: String?
        var worker: Thread?
        loop: while terminal.isAlive {
            var messages = inbox.drain()
            if let input = terminal.read() { messages.append(input) }
            for message in messages {
                // Compute threads (BLAS, dispatch workers) appear as the run needs them: keep them below the UI.
                if case .progress = message { ThreadPriority.lowerAll(except: uiThread) }
                for effect in update(&model, message) {
                    switch effect {
                    case .quit:
                        cancelFlag.set(true)
                        break loop
                    case .cancel:
                        cancelFlag.set(true)
                    case .loadGallery:
                        inbox.post(.galleryLoaded(loadGallery()))
                    case let .trash(path):
                        if let problem = trash(path) { inbox.post(.failed(problem)) }
                    case let .remember(prompt):
                        remember(prompt)
                    case let .saveMask(path, mask):
                        if let problem = saveMask(path, mask) { inbox.post(.failed(problem)) }
                    case let .loadMask(path, quiet):
                        guard let painter = model.painter else { break }
                        do {
                            if let mask = try loadMask(path, painter.image.width, painter.image.height) {
                                inbox.post(.maskLoaded(path: path, mask: mask))
                            } else if !quiet {
                                inbox.post(.failed("no mask file " + path))
                            }
                        } catch {
                            inbox.post(.failed("\(error)"))
                        }
                    case let .searchGallery(query):
                        // Embedding new images takes a moment: off the UI thread.
                        let inbox = self.inbox
                        _ = startThread {
                            do { inbox.post(.galleryRanked(paths: try searchGallery(query), query: query)) } catch {
                                inbox.post(.failed("search: \(error)"))
                            }
                        }
                    case let .loadModel(path):
                        // Loading takes seconds for a real checkpoint: off the UI thread, like generation.
                        let inbox = self.inbox
                        _ = startThread {
                            do {
                                let loaded = try loadModel(path)
                                inbox.post(.modelLoaded(path: path, name: loaded.name, defaults: loaded.defaults))
                            } catch {
                                inbox.post(.failed("cannot load \(path): \(error)"))
                            }
                        }
                    case let .generate(request):
                        cancelFlag.set(false)
                        ThreadPriority.lowerAll(except: uiThread)
                        let inbox = self.inbox, cancel = self.cancelFlag
                        worker = startThread {
                            let start = Date()
                            do {
                                let (path, image) = try make(request) { step, steps, preview in
                                    inbox.post(.progress(step: step, steps: steps, seconds: Date().timeIntervalSince(start), preview: preview))
                                    return !cancel.value
                                }
                                inbox.post(.finished(path: path, image: image, seconds: Date().timeIntervalSince(start)))
                            } catch is GenerationCancelled {
                                inbox.post(.cancelled)
                            } catch {
                                inbox.post(.failed("\(error)"))
                            }
                        }
                    }
                }
            }
            if counted != model.prompt.string {
                counted = model.prompt.string
                if let count = countTokens(model.prompt.string) { _ = update(&model, .tokenCount(used: count.used, capacity: count.capacity)) }
            }
            terminal.draw(view(model, depth: terminal.depth, graphics: terminal.graphics))
        }
        cancelFlag.set(true)
        _ = worker
    }
}

/// Runs `body` on a new thread with a stack large enough for the models' recursion (generation, model loading,
/// gallery search all run off the UI thread).
func startThread(_ body: @escaping @Sendable () -> Void) -> Thread {
    let thread = Thread(block: body)
    thread.stackSize = 16 << 20
    thread.start()
    return thread
}

/// Messages from worker threads to the event loop.
final class Inbox: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [Message] = []
    func post(_ m: Message) { lock.lock(); messages.append(m); lock.unlock() }
    func drain() -> [Message] { lock.lock(); defer { lock.unlock() }; let m = messages; messages = []; return m }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var v = false
    var value: Bool { lock.lock(); defer { lock.unlock() }; return v }
    func set(_ x: Bool) { lock.lock(); v = x; lock.unlock() }
}

/// Keeps the UI thread ahead of the compute threads on a machine whose cores the U-Net fills: every other thread of
/// the process gets nice +10 (lowering a thread's priority needs no privilege; Linux threads have their own nice).
enum ThreadPriority {
    static func currentThreadID() -> Int32 { Int32(phosphor_thread_id()) }

    static func lowerAll(except keep: Int32) {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return }
        for name in tasks {
            guard let tid = Int32(name), tid != keep else { continue }
            if getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid)) < 10 {
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid), 10)
            }
        }
    }
}
