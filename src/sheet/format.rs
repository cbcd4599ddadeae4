//! The CSV sheet `import` reads and `export` writes: one header, then one row per user, alias,
//! device or key, tied together by the extension (and a device's keys by its MAC).

use serde::Serialize;

/// The columns, in the order export writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// `user` (or empty), `alias`, `device` or `key`.
    Type,
    /// The user's extension; alias, device and user key rows name their user by it.
    Extension,
    /// User or alias name.
    Name,
    /// User email.
    Email,
    /// User role.
    Role,
    /// User admin flag (`yes`/`no`).
    Admin,
    /// User department.
    Department,
    /// User or device site.
    Site,
    /// User or alias SIP username.
    SipUsername,
    /// User or alias SIP password.
    SipPassword,
    /// User voicemail PIN.
    VoicemailPin,
    /// User caller ID.
    CallerId,
    /// User phone numbers, separated by `|`.
    PhoneNumbers,
    /// User external SIP login.
    ExternalSip,
    /// User device limit.
    MaxDevices,
    /// Device MAC; device key rows name their device by it.
    Mac,
    /// Device vendor.
    Vendor,
    /// Device model.
    Model,
    /// Device or key label.
    Label,
    /// Device-level settings as a JSON object.
    Settings,
    /// Key type (`line`, `blf`, `speed_dial`, `park`, `pickup`, `none`).
    KeyType,
    /// Key value: line number, extension, number, orbit or SIP URI.
    KeyValue,
    /// The position a key is pinned to.
    KeyPosition,
    /// The expansion module of a pinned key.
    KeyModule,
    /// Whether a key's value is an external SIP URI (`yes`/`no`).
    KeyExternal,
}

impl Column {
    /// Every column, in export order.
    pub const ALL: [Column; 25] = [
        Column::Type,
        Column::Extension,
        Column::Name,
        Column::Email,
        Column::Role,
        Column::Admin,
        Column::Department,
        Column::Site,
        Column::SipUsername,
        Column::SipPassword,
        Column::VoicemailPin,
        Column::CallerId,
        Column::PhoneNumbers,
        Column::ExternalSip,
        Column::MaxDevices,
        Column::Mac,
        Column::Vendor,
        Column::Model,
        Column::Label,
        Column::Settings,
        Column::KeyType,
        Column::KeyValue,
        Column::KeyPosition,
        Column::KeyModule,
        Column::KeyExternal,
    ];

    /// The header name (`sip_username`), which is also the API's field name.
    pub fn name(self) -> &'static str {
        match self {
            Column::Type => "type",
            Column::Extension => "extension",
            Column::Name => "name",
            Column::Email => "email",
            Column::Role => "role",
            Column::Admin => "admin",
            Column::Department => "department",
            Column::Site => "site",
            Column::SipUsername => "sip_username",
            Column::SipPassword => "sip_password",
            Column::VoicemailPin => "voicemail_pin",
            Column::CallerId => "caller_id",
            Column::PhoneNumbers => "phone_numbers",
            Column::ExternalSip => "external_sip",
            Column::MaxDevices => "max_devices",
            Column::Mac => "mac",
            Column::Vendor => "vendor",
            Column::Model => "model",
            Column::Label => "label",
            Column::Settings => "settings",
            Column::KeyType => "key_type",
            Column::KeyValue => "key_value",
            Column::KeyPosition => "key_position",
            Column::KeyModule => "key_module",
            Column::KeyExternal => "key_external",
        }
    }

    /// The column with header `name`.
    pub fn parse(name: &str) -> Option<Column> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The column a rule's field (`phone_numbers[1]`, `settings.sip_server`) belongs to.
    pub fn of_field(field: &str) -> Option<Column> {
        let end = field.find(['[', '.']).unwrap_or(field.len());
        Self::parse(&field[..end])
    }
}

/// What a row describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// A user (the default when `type` is empty).
    User,
    /// A SIP alias of the user with the row's extension.
    Alias,
    /// A phone of the user with the row's extension.
    Device,
    /// A programmable key of the user with the row's extension, or of the device with the
    /// row's MAC.
    Key,
}

impl RowKind {
    /// Parses the `type` cell; empty means a user.
    pub fn parse(cell: Option<&str>) -> Option<RowKind> {
        match cell.map(str::to_ascii_lowercase).as_deref() {
            None | Some("user") => Some(RowKind::User),
            Some("alias") => Some(RowKind::Alias),
            Some("device") => Some(RowKind::Device),
            Some("key") => Some(RowKind::Key),
            Some(_) => None,
        }
    }

    /// The `type` cell export writes.
    pub fn name(self) -> &'static str {
        match self {
            RowKind::User => "user",
            RowKind::Alias => "alias",
            RowKind::Device => "device",
            RowKind::Key => "key",
        }
    }

    /// The columns rows of this kind use.
    pub fn columns(self) -> &'static [Column] {
        use Column::*;
        match self {
            RowKind::User => &[
                Type,
                Extension,
                Name,
                Email,
                Role,
                Admin,
                Department,
                Site,
                SipUsername,
                SipPassword,
                VoicemailPin,
                CallerId,
                PhoneNumbers,
                ExternalSip,
                MaxDevices,
            ],
            RowKind::Alias => &[Type, Extension, Name, SipUsername, SipPassword],
            RowKind::Device => &[Type, Extension, Mac, Vendor, Model, Label, Site, Settings],
            RowKind::Key => &[
                Type,
                Extension,
                Mac,
                KeyType,
                KeyValue,
                Label,
                KeyPosition,
                KeyModule,
                KeyExternal,
            ],
        }
    }
}

/// One problem of a file: its row (the header is row 1), column, rule code and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Row number as a spreadsheet shows it (the header is row 1).
    pub row: u64,
    /// Column header, when the problem is in one cell.
    #[schema(required = true)]
    pub column: Option<String>,
    /// Stable rule code (`extension_reserved`, `duplicate_in_file`, …).
    pub code: &'static str,
    /// What is wrong, in words a person can act on.
    pub message: String,
}

impl Problem {
    /// A problem in `column` of `row`.
    pub fn at(row: u64, column: Column, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            row,
            column: Some(column.name().to_owned()),
            code,
            message: message.into(),
        }
    }
}

/// The cells of one row, by column; an empty cell is "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cells(Vec<String>);

impl Cells {
    /// A row with every cell empty.
    pub fn new() -> Self {
        Self(vec![String::new(); Column::ALL.len()])
    }

    /// The cell of `column`, `None` when empty.
    pub fn get(&self, column: Column) -> Option<&str> {
        Some(self.0[column as usize].as_str()).filter(|c| !c.is_empty())
    }

    /// Sets the cell of `column`.
    pub fn set(&mut self, column: Column, value: impl Into<String>) {
        self.0[column as usize] = value.into();
    }

    /// The columns that have a value.
    pub fn filled(&self) -> impl Iterator<Item = Column> + '_ {
        Column::ALL.into_iter().filter(|c| self.get(*c).is_some())
    }
}

/// A data row of a file.
#[derive(Debug, Clone)]
pub struct Row {
    /// Row number as a spreadsheet shows it (the first data row is 2).
    pub number: u64,
    /// Its cells.
    pub cells: Cells,
}

/// A file read: its data rows, and what was wrong with the file itself.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The rows that could be read.
    pub rows: Vec<Row>,
    /// Header, encoding and CSV syntax problems.
    pub problems: Vec<Problem>,
}

/// Reads a whole CSV file into memory (small files, tests); an import streams it with
/// [`Sheet`] instead.
pub fn parse(bytes: &[u8]) -> Parsed {
    let sheet = match Sheet::open(bytes) {
        Ok(sheet) => sheet,
        Err(problems) => {
            return Parsed {
                rows: Vec::new(),
                problems,
            };
        }
    };
    let mut parsed = Parsed::default();
    for row in sheet.rows() {
        match row {
            Ok(row) => parsed.rows.push(row),
            Err(problems) => parsed.problems.extend(problems),
        }
    }
    parsed
}

/// A CSV file whose header was read: UTF-8 (a byte-order mark is fine), `,` or `;` as
/// separator (taken from the header line), columns in any order, surrounding spaces ignored
/// except in `sip_password`. Its rows are read one at a time, as often as needed.
#[derive(Debug)]
pub struct Sheet<'a> {
    body: &'a [u8],
    delimiter: u8,
    columns: Vec<Option<Column>>,
}

impl<'a> Sheet<'a> {
    /// Reads the header of `bytes`; the header's problems (or an empty file) otherwise.
    pub fn open(bytes: &'a [u8]) -> Result<Self, Vec<Problem>> {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let delimiter = delimiter(body);
        let mut reader = reader(body, delimiter);
        let mut record = csv::ByteRecord::new();
        match reader.read_byte_record(&mut record) {
            Ok(true) => Ok(Self {
                body,
                delimiter,
                columns: header(&record)?,
            }),
            Ok(false) => Err(vec![Problem {
                row: 1,
                column: None,
                code: "header_missing",
                message: header_help("the file is empty; it needs a header row"),
            }]),
            Err(e) => Err(vec![csv_problem(1, &e)]),
        }
    }

    /// Counts the records after the header without keeping any (blank ones too): a quick
    /// look at a file's size in rows before it is read.
    pub fn records(&self) -> usize {
        let mut reader = reader(self.body, self.delimiter);
        let mut record = csv::ByteRecord::new();
        let mut count: usize = 0;
        while let Ok(true) = reader.read_byte_record(&mut record) {
            count += 1;
        }
        count.saturating_sub(1)
    }

    /// The data rows in file order, each a row or its problems; blank rows are skipped, and a
    /// CSV syntax error is the last item.
    pub fn rows(&self) -> impl Iterator<Item = Result<Row, Vec<Problem>>> + '_ {
        let mut reader = reader(self.body, self.delimiter);
        let mut record = csv::ByteRecord::new();
        let mut number = 0u64;
        let mut broken = false;
        std::iter::from_fn(move || {
            loop {
                if broken {
                    return None;
                }
                number += 1;
                match reader.read_byte_record(&mut record) {
                    Ok(false) => return None,
                    Err(e) => {
                        broken = true;
                        return Some(Err(vec![csv_problem(number, &e)]));
                    }
                    Ok(true) if number == 1 => continue,
                    Ok(true) => {
                        let mut problems = Vec::new();
                        match data_row(number, &self.columns, &record, &mut problems) {
                            Some(row) => return Some(Ok(row)),
                            None if problems.is_empty() => continue,
                            None => return Some(Err(problems)),
                        }
                    }
                }
            }
        })
    }
}

fn reader(body: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(body)
}

fn csv_problem(row: u64, e: &csv::Error) -> Problem {
    Problem {
        row,
        column: None,
        code: "csv_invalid",
        message: format!("the file is not valid CSV here: {e}"),
    }
}

/// `;` when the header line has semicolons and no commas (spreadsheets in many locales).
fn delimiter(bytes: &[u8]) -> u8 {
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    if line.contains(&b';') && !line.contains(&b',') {
        b';'
    } else {
        b','
    }
}

fn header_help(first: &str) -> String {
    let names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
    format!("{first}; the columns are {}", names.join(", "))
}

fn header(record: &csv::ByteRecord) -> Result<Vec<Option<Column>>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut columns = Vec::with_capacity(record.len());
    let problem = |column: &str, code, message: String| Problem {
        row: 1,
        column: Some(column.to_owned()),
        code,
        message,
    };
    for cell in record {
        let name = String::from_utf8_lossy(cell).trim().to_ascii_lowercase();
        if name.is_empty() {
            columns.push(None);
            continue;
        }
        match Column::parse(&name) {
            Some(c) if columns.contains(&Some(c)) => {
                problems.push(problem(
                    &name,
                    "duplicate_column",
                    "this column appears twice in the header".into(),
                ));
            }
            Some(c) => columns.push(Some(c)),
            None => problems.push(problem(
                &name,
                "unknown_column",
                header_help(&format!("unknown column '{name}'")),
            )),
        }
    }
    if !columns.contains(&Some(Column::Extension)) && problems.is_empty() {
        problems.push(problem(
            "extension",
            "missing_column",
            header_help("the header needs an extension column"),
        ));
    }
    if problems.is_empty() {
        Ok(columns)
    } else {
        Err(problems)
    }
}

fn data_row(
    number: u64,
    columns: &[Option<Column>],
    record: &csv::ByteRecord,
    problems: &mut Vec<Problem>,
) -> Option<Row> {
    let mut cells = Cells::new();
    let mut ok = true;
    for (i, raw) in record.iter().enumerate() {
        let Ok(text) = std::str::from_utf8(raw) else {
            let column = columns.get(i).copied().flatten();
            problems.push(Problem {
                row: number,
                column: column.map(|c| c.name().to_owned()),
                code: "not_utf8",
                message: "this cell is not UTF-8 text; save the file as \"CSV UTF-8\"".into(),
            });
            ok = false;
            continue;
        };
        match columns.get(i).copied().flatten() {
            Some(Column::SipPassword) => cells.set(Column::SipPassword, text),
            Some(column) => cells.set(column, text.trim()),
            None if text.trim().is_empty() => {}
            None => {
                problems.push(Problem {
                    row: number,
                    column: None,
                    code: "cell_without_column",
                    message: format!("cell {} has a value but no column header above it", i + 1),
                });
                ok = false;
            }
        }
    }
    let blank = cells.filled().next().is_none();
    (ok && !blank).then_some(Row { number, cells })
}

/// Writes rows under the full header, in the order given.
#[derive(Debug)]
pub struct SheetWriter {
    writer: csv::Writer<Vec<u8>>,
}

impl SheetWriter {
    /// A sheet with its header written.
    pub fn new() -> Self {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        writer
            .write_record(Column::ALL.iter().map(|c| c.name()))
            .expect("writing to memory");
        Self { writer }
    }

    /// Appends a row.
    pub fn row(&mut self, cells: &Cells) {
        self.writer
            .write_record(&cells.0)
            .expect("writing to memory");
    }

    /// The CSV text.
    pub fn finish(self) -> String {
        let bytes = self.writer.into_inner().expect("writing to memory");
        String::from_utf8(bytes).expect("cells are UTF-8")
    }
}

impl Default for SheetWriter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_columns_in_any_order_with_bom_semicolons_and_spaces() {
        let file = "\u{feff}Name ; extension;sip_password\n John ;101; pw \n;;\n";
        let parsed = parse(file.as_bytes());
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        assert_eq!(parsed.rows.len(), 1, "the blank row is skipped");
        let row = &parsed.rows[0];
        assert_eq!(row.number, 2);
        assert_eq!(row.cells.get(Column::Name), Some("John"));
        assert_eq!(row.cells.get(Column::Extension), Some("101"));
        assert_eq!(row.cells.get(Column::SipPassword), Some(" pw "));
    }

    #[test]
    fn header_problems_name_the_column() {
        let parsed = parse(b"extension,nmae,name,name\n101,x,y,z\n");
        let codes: Vec<(&str, Option<&str>)> = parsed
            .problems
            .iter()
            .map(|p| (p.code, p.column.as_deref()))
            .collect();
        assert_eq!(
            codes,
            [
                ("unknown_column", Some("nmae")),
                ("duplicate_column", Some("name"))
            ]
        );
        assert!(parsed.rows.is_empty());
        let parsed = parse(b"name\nJohn\n");
        assert_eq!(parsed.problems[0].code, "missing_column");
        assert_eq!(parse(b"").problems[0].code, "header_missing");
    }

    #[test]
    fn cells_that_are_not_utf8_or_have_no_header_are_reported() {
        let parsed = parse(b"extension,name,\n101,J\xe9r\xf4me,\n102,Ann,extra\n");
        let got: Vec<(u64, &str)> = parsed.problems.iter().map(|p| (p.row, p.code)).collect();
        assert_eq!(got, [(2, "not_utf8"), (3, "cell_without_column")]);
        assert_eq!(parsed.problems[0].column.as_deref(), Some("name"));
    }

    #[test]
    fn written_sheets_read_back_cell_for_cell() {
        let mut cells = Cells::new();
        cells.set(Column::Type, "user");
        cells.set(Column::Extension, "101");
        cells.set(Column::Name, "Smith, \"Jo\"");
        cells.set(Column::SipPassword, "a;b|c\"d");
        let mut writer = SheetWriter::new();
        writer.row(&cells);
        let text = writer.finish();
        assert!(text.starts_with("type,extension,name,"), "{text}");
        let parsed = parse(text.as_bytes());
        assert!(parsed.problems.is_empty());
        assert_eq!(parsed.rows[0].cells, cells);
    }

    #[test]
    fn rule_fields_map_to_their_column() {
        assert_eq!(
            Column::of_field("phone_numbers[1]"),
            Some(Column::PhoneNumbers)
        );
        assert_eq!(
            Column::of_field("settings.sip_server"),
            Some(Column::Settings)
        );
        assert_eq!(Column::of_field("order"), None);
    }
}
