"""Campaign services (writes), one module per topic:

- templates: message templates and their preview
- campaigns: definition, schedule, and the state machine (`state_move`)
- lifecycle: start, pause, resume, cancel
- audience: who a campaign is for (groups, all contacts, the saved filter) in SQL
- rotation: which number sends to whom
- materialize: a run's ledger rows, written with COPY
- rows: holding, releasing and cancelling a run's rows
- progress: counters (ledger roll-up), progress events, completion, stop rules
- ticks: the per-run tick and the watchdog
- schedule: the beat entries of scheduled and recurring campaigns
"""
