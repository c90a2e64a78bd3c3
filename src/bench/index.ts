/**
 * `pqnotify/bench`: the LISTEN/NOTIFY load test behind `pqnotify bench`, for programs that
 * want its numbers without the command line. K listeners, M notifiers, C channels; it
 * measures throughput, end-to-end latency, loss and the server's queue.
 *
 * @packageDocumentation
 */
export {
  type NotifyBenchCounts,
  NotifyBenchError,
  type NotifyBenchErrorCount,
  type NotifyBenchLatency,
  type NotifyBenchListenerResult,
  type NotifyBenchOptions,
  type NotifyBenchProgress,
  type NotifyBenchResult,
  type NotifyBenchSettings,
  type NotifyBenchTimelineBucket,
  runNotifyBench,
} from './notify-bench.js';
