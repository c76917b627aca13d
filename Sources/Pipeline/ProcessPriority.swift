import Foundation
import HalfsizeCore

/// The process's CPU scheduling priority (nice value). The downloader runs below the resizers
/// on a shared machine: it then takes only the CPU they leave, so a big job's images are halved
/// from its first seconds instead of after every download is done.
public enum ProcessPriority {
    /// Sets every thread of the process to `niceness` (Linux keeps one per thread, and a new
    /// thread takes its creator's), so threads started later inherit it too.
    public static func lower(to niceness: Int) throws(HalfsizeError) {
        guard niceness > 0 else { return }
        #if os(Linux)
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        let lowered = tasks.compactMap { id_t($0) }.allSatisfy { setpriority(__priority_which_t(PRIO_PROCESS.rawValue), $0, Int32(niceness)) == 0 }
        #else
        let lowered = setpriority(PRIO_PROCESS, 0, Int32(niceness)) == 0
        #endif
        guard lowered else {
            throw HalfsizeError(.invalidConfiguration, "cannot lower the priority to \(niceness): \(String(cString: strerror(errno)))")
        }
    }
}
