import { definePlugin, Type } from '@plugbay/sdk';

export default definePlugin({
  name: '__NAME__',
  version: '0.1.0',
  description: 'Greets people by name.',
  functions: {
    greet: {
      description: 'Says hello.',
      input: Type.Object(
        { name: Type.String({ minLength: 1, maxLength: 100 }) },
        { additionalProperties: false },
      ),
      output: Type.Object({ message: Type.String() }, { additionalProperties: false }),
      idempotent: true,
      // `plugbay test` calls every example and checks the output.
      examples: [{ input: { name: 'Ada' }, output: { message: 'Hello, Ada!' } }],
      handler: ({ name }) => ({ message: `Hello, ${name}!` }),
    },
  },
});
