# Local single-node Apache Kafka broker (KRaft) for tests and the demo.
# The JDK runs the broker from jars fetched from Maven Central (cached under
# $(CACHE_DIR)); data, config, log and pid file live in $(KAFKA_DIR).
# See scripts/kafka/ for the scripts and the environment they accept.

KAFKA_PORT ?= 9092
KAFKA_CONTROLLER_PORT ?= $(shell expr $(KAFKA_PORT) + 1)
KAFKA_DIR ?= $(CURDIR)/.kafka
KAFKA_ENV = CACHE_DIR='$(CACHE_DIR)' KAFKA_PORT=$(KAFKA_PORT) \
	KAFKA_CONTROLLER_PORT=$(KAFKA_CONTROLLER_PORT) KAFKA_DIR='$(KAFKA_DIR)'

.PHONY: kafka-up kafka-down kafka-logs kafka-jars

kafka-jars:  ## fetch the broker jars only
	@CACHE_DIR='$(CACHE_DIR)' scripts/kafka/fetch-jars.sh

kafka-up:  ## start the broker (no-op when one answers) and wait until it answers
	@$(KAFKA_ENV) KAFKA_PYTHON='$(CURDIR)/$(PY)' scripts/kafka/kafka-up.sh

kafka-down:  ## stop it, keeping its data (KAFKA_WIPE=1 deletes it)
	@$(KAFKA_ENV) scripts/kafka/kafka-down.sh

kafka-logs:  ## last lines of the broker log
	@if [ -f '$(KAFKA_DIR)/docker-container' ]; then \
		docker logs --tail 100 "$$(cat '$(KAFKA_DIR)/docker-container')"; \
	else tail -n 100 '$(KAFKA_DIR)/logs/server.log'; fi
