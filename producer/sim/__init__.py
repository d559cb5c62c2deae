"""Parts of the Skillable API simulator; `producer.simulator` is its front door.

- `lifecycle`: completion statuses and how a lab instance evolves (pure).
- `labs`: the catalog, lab instances and their 24-field results (pure).
- `world`: the simulated clock and account, answering queries (pure).
- `faults`: which faults to inject and how they change an answer (pure).
- `endpoints`: what each HTTP endpoint answers (pure).
- `server`: the HTTP server and the faults that act on the connection.
"""
