// Command settlement-worker settles payment requests from RabbitMQ with
// payment providers and publishes PaymentSettlementStatus events.
//
// It is the composition root: the command line (cli.go) chooses between
// running the worker (run.go: configuration → provider clients →
// worker.Run) and the operator commands (operator.go: parked ls|replay|purge,
// replay-parked, show, stuck, stats, publish, tail — thin wiring of package
// ops — and version). `--help` prints the commands and the environment
// variables.
package main

import "os"

func main() { os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr)) }
