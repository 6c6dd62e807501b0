# SPEC-018 §2.3, verbatim; the Background (not in the spec) names the test
# set-up: an established session between two nodes with real crypto over
# MockTransport, time on a ManualClock.
Feature: Degradation and Recovery

  Background:
    Given two nodes "alice" and "bob" on a MockTransport network with 20 ms latency and a ManualClock
    And an established session from "alice" to "bob"

  Scenario: Network partition detection
    When connectivity lost for >30s
    Then state becomes "degraded"
    And messages are queued
    And session is preserved

  Scenario: Partition recovery
    Given session is "degraded"
    When connectivity restored
    Then re-establishment is attempted
    And queued messages are flushed

  Scenario: Transport fallback
    Given session over QUIC
    When QUIC fails
    Then re-establishment over μTCP is attempted
    And this is transparent to upper layers
