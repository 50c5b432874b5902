// What a span of a message's handling says about the message (OpenTelemetry's messaging
// conventions, plus the incident it belongs to), so a trace shows which delivery did what.
import type { Attributes } from '@opentelemetry/api';
import type { JsMsg } from '@nats-io/jetstream';

export function consumerSpanAttributes(msg: JsMsg, messageId: string, correlationId: string): Attributes {
  return {
    'messaging.system': 'nats',
    'messaging.operation.type': 'process',
    'messaging.destination.name': msg.subject,
    'messaging.consumer.group.name': msg.info.consumer,
    'messaging.message.id': messageId,
    'mes.delivery_count': msg.info.deliveryCount,
    'mes.correlation_id': correlationId,
  };
}
