//! plateau-metrics: few-shot linear probes, accuracy, the results store, saturation fits, Pareto frontiers, plots and the report (the metrics issue fills it).
