"""The siaga service: Kafka plumbing, the pipeline assembly, the API and the CLI.

In: settings (`SIAGA_*`), the network file, readings over HTTP or Kafka.
Out: records on `siaga.readings`, `siaga.readings.dlq` and `siaga.alerts`,
and the HTTP API that serves them.

`service.pipeline` is the one place that assembles the detector stages.
Deliberately not here: grading logic (`detectors`) and contract definitions
(`schemas`); dependencies point service → detectors → schemas only.
"""
