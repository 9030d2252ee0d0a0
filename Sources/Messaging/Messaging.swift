import AMQPWire
