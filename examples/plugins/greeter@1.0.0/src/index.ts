import { definePlugin, Type } from '@plugbay/sdk';

export default definePlugin({
  name: 'greeter',
  version: '1.0.0',
  description: 'Greets people by name.',
  functions: {
    greet: {
      description: 'Says hello.',
      input: Type.Object(
        { name: Type.String({ minLength: 1, maxLength: 100 }) },
        { additionalProperties: false },
      ),
      output: Type.Object({ message: Type.String() }),
      idempotent: true,
      examples: [{ input: { name: 'Ada' }, output: { message: 'Hello, Ada!' } }],
      handler: ({ name }) => ({ message: `Hello, ${name}!` }),
    },
  },
});
