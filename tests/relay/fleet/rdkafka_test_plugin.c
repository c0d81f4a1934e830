/* A librdkafka plugin that does nothing: loaded through a Kafka sink's
 * rdkafka.plugin.library.paths, it makes that sink buildable only where the
 * file is (the fleet test's "a sink one edge cannot build"). */
#include <stddef.h>

/* librdkafka's rd_kafka_plugin_f_conf_init_t; 0 is RD_KAFKA_RESP_ERR_NO_ERROR. */
int conf_init(void* conf, void** plug_opaquep, char* errstr, size_t errstr_size);

int conf_init(void* conf, void** plug_opaquep, char* errstr, size_t errstr_size) {
  (void)conf;
  (void)plug_opaquep;
  (void)errstr;
  (void)errstr_size;
  return 0;
}
